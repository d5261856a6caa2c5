"""The profiles in the AWS config and credentials files, as botocore reads them."""

from __future__ import annotations


def available_profiles() -> list[str]:
    """Every profile name botocore knows (config and credentials files), sorted; [] when the
    files cannot be read. botocore is imported here, on the first call."""
    try:
        import botocore.session

        names = botocore.session.Session().available_profiles
    except Exception:
        return []  # a broken config file: the doctor and the calls say why
    return sorted({name for name in names if isinstance(name, str) and name})
