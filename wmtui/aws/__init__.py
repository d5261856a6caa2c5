"""WorkMail through boto3: the real ExportService and its error translation.

Importing this package loads neither boto3 nor botocore; the first call does.
"""

from wmtui.aws.errors import to_service_error
from wmtui.aws.service import Boto3ExportService

__all__ = ["Boto3ExportService", "to_service_error"]
