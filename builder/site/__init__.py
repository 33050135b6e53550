"""The catalog site: every signed release rendered, offline, provably equal to what was signed.

`builder.site.model` decides the pages, `builder.site.views` what each shows,
`builder.site.prose` renders runbook Markdown safely, `builder.site.render` is the only
module that talks to mkdocs-material, `builder.site.build` orchestrates and
`builder.site.publish` flips the published symlink. Reference: docs/site.md.
"""
