"""The dev instance: a loopback Fulcio + CT + Rekor emulator for signing with no network.

Signing goes through sigstore's real ``SigningContext.from_trust_config`` path
against :attr:`DevInstance.trust_config_path`; bundles verify with sigstore's
real ``Verifier`` against :attr:`DevInstance.trusted_root_path`. Its root
certifies ANY identity it is asked for: never trust it in production.

Example::

    with DevInstance(state_dir) as inst:
        cfg = ClientTrustConfig.from_json(inst.trust_config_path.read_text())
        ctx = SigningContext.from_trust_config(cfg)
        with ctx.signer(IdentityToken(inst.identity_token())) as signer:
            bundle = signer.sign_artifact(data)
"""

from builder.devinstance.instance import DevInstance
from builder.devinstance.oidc import DEV_IDENTITY, DEV_ISSUER

__all__ = ["DEV_IDENTITY", "DEV_ISSUER", "DevInstance"]
