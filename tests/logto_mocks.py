"""Logto connector-smtp's test data (logto-io/logto, packages/connectors/connector-smtp/src/
mock.ts), as upstream writes it, for the tests that translate its cases: config guard cases in
tests/config/test_logto_upstream.py, sending cases in tests/delivery/test_logto_upstream_send.py."""

from __future__ import annotations

from typing import Any

# src/mock.ts `mockedConfig`, unchanged (placeholders in angle brackets are upstream's).
MOCKED_CONFIG: dict[str, Any] = {
    "host": "<test.smtp.host>",
    "port": 80,
    "auth": {"pass": "<password>", "user": "<username>"},
    "fromEmail": "<notice@test.smtp>",
    "templates": [
        {
            "contentType": "text/plain",
            "content": (
                "This is for testing purposes only. Your verification code is {{    code }}."
            ),
            "subject": "Logto Test with SMTP",
            "usageType": "Generic",
        },
        {
            "contentType": "text/plain",
            "content": "This is for sign-in purposes only. Your verification code is {{ code  }}.",
            "subject": "Logto sign-in with SMTP {{   code   }}",
            "usageType": "SignIn",
        },
        {
            "contentType": "text/plain",
            "content": "This is for register purposes only. Your verification code is {{code}}.",
            "subject": "Logto register with SMTP",
            "usageType": "Register",
        },
        {
            "contentType": "text/plain",
            "content": (
                "This is for resetting password purposes only. Your verification code is {{code}}."
            ),
            "subject": "Logto Forgot Password with SMTP",
            "usageType": "ForgotPassword",
        },
        {
            "contentType": "text/plain",
            "content": "This is for organization invitation. Your link is {{  link}}.",
            "subject": "Organization invitation",
            "usageType": "OrganizationInvitation",
        },
    ],
    "customHeaders": {},
}
OAUTH2_WITH_TOKEN = {
    "user": "<user@logto.io>",
    "type": "oauth2",
    "clientId": "<client-id>",
    "clientSecret": "<client-secret>",
    "accessToken": "<access-token>",
}
OAUTH2_WITH_KEY = {
    "user": "<user@logto.io>",
    "serviceClient": "<service-client>",
    "privateKey": "<private-key>",
}
TLS_WITHOUT_TLS_OBJECT = {"servername": "<servername>", "ignoreTLS": False, "requireTLS": True}
TLS_WITH_TLS_OBJECT = {"tls": {"rejectUnauthorized": True}, **TLS_WITHOUT_TLS_OBJECT}
CONNECTION_VALID = {"localAddress": "<local-address>", "name": "<name>"}
CONNECTION_INVALID = {"name": "<name>"}
DEBUGGING = {"logger": True, "debug": False}
SECURITY = {"disableFileAccess": True, "disableUrlAccess": False}
