"""The Fulcio extensions real Fulcio derives from a CI job's OIDC token, for dev tokens.

Mirrors Fulcio's ``config/identity/config.yaml`` (``ci-issuer-metadata``) for the two CI
providers sealbook documents: a token from GitHub Actions' issuer or GitLab's is certified
with the same SAN and the same ``1.3.6.1.4.1.57264.1.*`` extensions Fulcio would write, so
every signer rule on claims can be tested offline. Tokens from any other issuer get the
identity they name and no CI extensions.

`github_actions_claims` and `gitlab_ci_claims` build the claims those providers put in a
job's token, for dev tokens that stand in for one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from builder.devinstance.errors import RequestRejected

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
GITHUB_URL = "https://github.com"
GITLAB_URL = "https://gitlab.com"

Extension = tuple[str, str, bool]
"""(last OID arc under 1.3.6.1.4.1.57264.1, value, DER UTF8String: True, raw bytes: False)."""


def _claim(claims: Mapping[str, object], name: str) -> str:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise RequestRejected(f"identity token lacks the {name!r} claim Fulcio needs", 401)
    return str(value)


def _github(claims: Mapping[str, object]) -> tuple[str, list[Extension]]:
    def c(name: str) -> str:
        return _claim(claims, name)

    signer = f"{GITHUB_URL}/{c('job_workflow_ref')}"
    legacy = [("2", c("event_name")), ("3", c("sha")), ("4", c("workflow"))]
    legacy += [("5", c("repository")), ("6", c("ref"))]
    v2 = [
        ("9", signer),
        ("10", c("job_workflow_sha")),
        ("11", c("runner_environment")),
        ("12", f"{GITHUB_URL}/{c('repository')}"),
        ("13", c("sha")),
        ("14", c("ref")),
        ("15", c("repository_id")),
        ("16", f"{GITHUB_URL}/{c('repository_owner')}"),
        ("17", c("repository_owner_id")),
        ("18", f"{GITHUB_URL}/{c('workflow_ref')}"),
        ("19", c("workflow_sha")),
        ("20", c("event_name")),
        (
            "21",
            f"{GITHUB_URL}/{c('repository')}/actions/runs/{c('run_id')}/attempts/{c('run_attempt')}",
        ),
        ("22", c("repository_visibility")),
    ]
    return signer, [(o, v, False) for o, v in legacy] + [(o, v, True) for o, v in v2]


def _gitlab(claims: Mapping[str, object]) -> tuple[str, list[Extension]]:
    def c(name: str) -> str:
        return _claim(claims, name)

    signer = f"https://{c('ci_config_ref_uri')}"
    kind = "heads" if c("ref_type") == "branch" else "tags"
    v2 = [
        ("9", signer),
        ("10", c("ci_config_sha")),
        ("11", c("runner_environment")),
        ("12", f"{GITLAB_URL}/{c('project_path')}"),
        ("13", c("sha")),
        ("14", f"refs/{kind}/{c('ref')}"),
        ("15", c("project_id")),
        ("16", f"{GITLAB_URL}/{c('namespace_path')}"),
        ("17", c("namespace_id")),
        ("18", signer),
        ("19", c("ci_config_sha")),
        ("20", c("pipeline_source")),
        ("21", f"{GITLAB_URL}/{c('project_path')}/-/jobs/{c('job_id')}"),
        ("22", c("project_visibility")),
    ]
    return signer, [(o, v, True) for o, v in v2]


PROVIDERS: dict[str, Callable[[Mapping[str, object]], tuple[str, list[Extension]]]] = {
    GITHUB_ISSUER: _github,
    GITLAB_ISSUER: _gitlab,
}


def derive(issuer: str, claims: Mapping[str, object]) -> tuple[str, list[Extension]] | None:
    """(SAN, extensions) Fulcio derives for a CI issuer's token; None for other issuers."""
    provider = PROVIDERS.get(issuer)
    return provider(claims) if provider else None


SHA = "0" * 39 + "1"


def github_actions_claims(
    repository: str,
    ref: str,
    *,
    workflow: str = ".github/workflows/release.yml",
    event_name: str = "push",
    repository_id: int = 1000,
    owner_id: int = 100,
    run_id: int = 1,
    sha: str = SHA,
) -> dict[str, object]:
    """The claims of a GitHub Actions job token (``id-token: write``) for ``repository``."""
    owner = repository.split("/", 1)[0]
    workflow_ref = f"{repository}/{workflow}@{ref}"
    return {
        "iss": GITHUB_ISSUER,
        "sub": f"repo:{repository}:ref:{ref}",
        "repository": repository,
        "repository_id": str(repository_id),
        "repository_owner": owner,
        "repository_owner_id": str(owner_id),
        "repository_visibility": "private",
        "ref": ref,
        "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
        "sha": sha,
        "workflow": "release",
        "workflow_ref": workflow_ref,
        "workflow_sha": sha,
        "job_workflow_ref": workflow_ref,
        "job_workflow_sha": sha,
        "event_name": event_name,
        "run_id": str(run_id),
        "run_attempt": "1",
        "runner_environment": "github-hosted",
    }


def gitlab_ci_claims(
    project_path: str,
    ref: str,
    *,
    ref_type: str = "tag",
    pipeline_source: str = "push",
    project_id: int = 2000,
    namespace_id: int = 200,
    job_id: int = 1,
    sha: str = SHA,
) -> dict[str, object]:
    """The claims of a GitLab CI job's ``id_tokens`` token (``aud: sigstore``)."""
    namespace = project_path.rsplit("/", 1)[0]
    kind = "heads" if ref_type == "branch" else "tags"
    return {
        "iss": GITLAB_ISSUER,
        "sub": f"project_path:{project_path}:ref_type:{ref_type}:ref:{ref}",
        "project_path": project_path,
        "project_id": str(project_id),
        "namespace_path": namespace,
        "namespace_id": str(namespace_id),
        "project_visibility": "private",
        "ref": ref,
        "ref_type": ref_type,
        "sha": sha,
        "ci_config_ref_uri": f"gitlab.com/{project_path}//.gitlab-ci.yml@refs/{kind}/{ref}",
        "ci_config_sha": sha,
        "pipeline_source": pipeline_source,
        "job_id": str(job_id),
        "runner_environment": "gitlab-hosted",
    }
