"""Constants under Deep Lake v3's names (``from deeplake.constants import MB``).

Values that deeplake_nb reads are read at call time, so v3 code that sets them
(``dl.constants.DELETE_SAFETY_SIZE = 1 * MB``) changes behaviour as it did in v3.
"""

KB = 1 << 10
MB = 1 << 20
GB = 1 << 30

# dl.delete refuses a dataset storing more bytes than this unless large_ok=True (v3: 1 GB)
DELETE_SAFETY_SIZE = 1 * GB

# v3's id of the first commit of every dataset (v3 stored its data outside the versions tree);
# deeplake_nb's first version has its own time-stamped id: read it from ds.commit_id
FIRST_COMMIT_ID = "firstdbf9474d461a19e9333c2fd19b46115348f"

# v3 guarded assignment past a tensor's end with this flag; deeplake_nb always allows it
# (t[len(t) + 2] = x pads with empty samples), whatever the value
_ENABLE_RANDOM_ASSIGNMENT = True

# ds[i] / ds.tensor[i] in a loop over i warns (UserWarning) that iterating is faster, as in v3;
# set False to silence it
SHOW_ITERATION_WARNING = True

# v3's pytest command-line options selecting the storages its tests run on
MEMORY_OPT = "--memory-skip"
LOCAL_OPT = "--local"
S3_OPT = "--s3"
GCS_OPT = "--gcs"
AZURE_OPT = "--azure"
GDRIVE_OPT = "--gdrive"
HUB_CLOUD_OPT = "--hub-cloud"
