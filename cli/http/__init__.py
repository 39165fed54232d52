"""The web front end: ``dledger serve`` (JSON under /api, pages under /) and ``dledger
report`` (one self-contained HTML file).

A sibling of the command line, with no figure logic of its own: every number comes from
a ``projections.service.ReadService`` result and is only rendered here, as the CLI's JSON
(``to_json``), as HTML through autoescaping Jinja2 templates, or as Plotly figures built as
plain dicts. Nothing a page or a report needs is fetched from any network: Plotly's
JavaScript comes from the installed package, the style sheet and the chart script from
this package, the fonts from the system.

- ``api``: the FastAPI application (``make_app``), its JSON endpoints and its middleware;
- ``door``: the one place where an error becomes a status and a one-line body;
- ``readers``: one read service per worker thread, brought up to date on every request;
- ``pages``: the pages for a person; ``charts``: the Plotly figures; ``html``: templates;
- ``report``: the situation report; ``commands``: the ``serve`` and ``report`` commands.
"""
