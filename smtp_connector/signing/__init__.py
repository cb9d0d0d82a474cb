"""Signing of the final message bytes: DKIM and S/MIME, and the policy that orders them.
Imports config and the shared vocabulary; each signer checks its own key material when built."""
