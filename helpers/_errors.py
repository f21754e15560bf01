"""The errors of getting data (`helpers.download` re-exports them): a module of their own at the bottom of
the import graph, so the downloader and the stamp files can raise them without importing `download`."""


class DownloadError(OSError):
    """A file could not be downloaded from any URL; the message says how to place it by hand."""


class ChecksumError(ValueError):
    """A file's sha256 / md5 / size is not the expected one."""


class CacheError(DownloadError):
    """The cache is not laid out as expected: a file where a folder belongs, a folder unpacked by something
    else. The message says, in one line, what stands in the way and what to do."""


class UnknownDatasetError(KeyError):
    """A dataset name that is not in the registry; the message lists the known names."""

    def __str__(self):
        return str(self.args[0])
