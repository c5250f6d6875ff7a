"""Deep Lake v3's import path ``deeplake.client`` (Activeloop's backend client: ``client.client``)."""
