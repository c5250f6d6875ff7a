"""Browser tests: real JupyterLab + system Chromium through Playwright (see lab_driver.py).
Select them with ``-m browser``, leave them out with ``-m "not browser"``."""


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives JupyterLab in Chromium through Playwright (slow, ~30-60 s)")
