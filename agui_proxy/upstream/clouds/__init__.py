"""Credentials of the cloud upstreams: AWS for Bedrock (``aws.py``), Google Cloud for Vertex AI
(``gcp.py``).

Each upstream whose credentials come from a cloud's own chain gets one :class:`Authorizer`,
built once at start (:func:`cloud_authorizers`), when missing credentials are an error naming the
upstream and what was looked for.  The one place that talks to the upstream
(``upstream/call.py``) hands it each request just before sending, to be signed (SigV4) or
given its access token, since those depend on the time and on credentials that expire; no
provider and nothing of the core sees them.  The cloud libraries (botocore, google-auth) are
optional extras, imported only here and only when such an upstream is configured.
"""

from __future__ import annotations

from .base import Authorizer, CredentialsInfo
from .registry import cloud_authorizers, describe_credentials

__all__ = ["Authorizer", "CredentialsInfo", "cloud_authorizers", "describe_credentials"]
