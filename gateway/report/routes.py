"""HTTP edge of the report: search, the report page, sign-in and sign-out, an owner's
sharing of a passport and the check of a shared one (SD-JWT presentations,
docs/selective-disclosure.md).

All I/O happens here (the source, the token verifier, cookies); the page
content comes from the pure `build_report` and `line_chart`. Pages need no
script and load nothing from other hosts, so they work offline and under a
strict Content-Security-Policy. One page runs a script: `/present`, where
the owner's browser signs the key-binding JWT with a key the server never
sees; it allows only the site's own `present.js` and still no connection.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from gateway.credentials.sdjwt import InvalidSDJWT
from gateway.credentials.sdvc import holding_of
from gateway.service.passport_vc import check, issue_for
from policies import Principal, Role
from schema.code import RobotCode, RobotCodeError
from schema.events import ChainReport, Event, EventType, verify
from schema.source import LoggedSource, PassportSource, RobotFilter, RobotRecord
from schema.writes import WriteError

from .alerts import alerts
from .charts import line_chart
from .i18n import LANGUAGES, choose_language, translator
from .model import Chart, Restricted, build_report, discloses, has_restricted
from .session import (
    LANG_COOKIE,
    DemoSignIn,
    Viewer,
    drop_token,
    keep_language,
    keep_token,
    principal_of,
    viewer_of,
)

if TYPE_CHECKING:
    from gateway.service.services import Services

View = Callable[[Principal, RobotRecord], Container[str]]

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
PRESENT_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": HEADERS["Content-Security-Policy"] + "; script-src 'self'",
}
"""`/present` runs /static/report/present.js and nothing else: no inline script, no
eval, and (default-src 'none') no fetch, so not even that script can send the key."""
MAX_FORM_BYTES = 16_384
MAX_PRESENTATION_BYTES = 1 << 20
"""A presentation of a robot's whole history runs to a few hundred kilobytes."""
EXAMPLES = 5
_LOCAL_PATH = re.compile(r"/(?!/)[A-Za-z0-9/_\-.]*")


def _templates() -> Jinja2Templates:
    root = resources.files("gateway")
    templates = Jinja2Templates(directory=str(root.joinpath("templates")))
    templates.env.filters["num"] = lambda value, digits=1: f"{value:,.{digits}f}"
    templates.env.filters["day"] = lambda value: value.date().isoformat()
    templates.env.tests["restricted"] = lambda value: isinstance(value, Restricted)
    return templates


def chart_markup(chart: Chart, t: Callable[..., str]) -> Markup | None:
    """The chart's SVG in the page language; None when it has nothing to draw."""
    if isinstance(chart.series, Restricted) or not any(s.points for s in chart.series):
        return None
    digits = 3 if chart.unit == "mm" else 1
    first = chart.series[0].points
    description = t(
        "chart_desc",
        count=len(first),
        start=first[0].at.date().isoformat(),
        end=first[-1].at.date().isoformat(),
        last=f"{first[-1].value:.{digits}f} {chart.unit}",
    )
    return line_chart(
        f"chart-{chart.key}",
        chart.series,
        title=t(f"chart.{chart.key}"),
        description=description,
        y_range=chart.y_range,
        digits=digits,
    )


@dataclass(frozen=True, slots=True)
class Page:
    """What every page template gets besides its own content."""

    lang: str
    viewer: Viewer
    path: str
    query: tuple[tuple[str, str], ...] = ()

    def in_language(self, lang: str) -> str:
        """This page's URL in `lang`: the same query, `lang` replaced."""
        kept = [(k, v) for k, v in self.query if k != "lang"]
        return f"{self.path}?{urlencode([*kept, ('lang', lang)])}"


class ReportSite:
    """The report pages over the gateway's source, with its verifier and masks (`view`)."""

    def __init__(self, services: Services, view: View, demo: DemoSignIn | None = None) -> None:
        self.source: PassportSource = services.source
        self.view = view
        self.verifier = services.verifier
        self.demo = demo
        self.credentials = services.credentials
        self.templates = _templates()

    def routes(self) -> list[BaseRoute]:
        static = resources.files("gateway").joinpath("static", "report")
        return [
            Route("/", self.index, name="report_index"),
            Route("/robots", self.search),
            Route("/robots/{code}", self.robot, name="report_robot"),
            Route("/signin", self.signin_form),
            Route("/signin", self.signin, methods=["POST"]),
            Route("/signout", self.signout, methods=["POST"]),
            Route("/verify", self.verify_form),
            Route("/verify", self.verify, methods=["POST"]),
            Route("/present", self.present_form),
            Route("/present", self.present, methods=["POST"]),
            Mount("/static/report", StaticFiles(directory=str(static)), name="report_static"),
        ]

    async def _page(self, request: Request) -> Page:
        lang = choose_language(
            request.query_params.get("lang"),
            request.cookies.get(LANG_COOKIE),
            request.headers.get("accept-language"),
        )
        viewer = await viewer_of(request, self.verifier)
        return Page(lang, viewer, request.url.path, tuple(request.query_params.multi_items()))

    def _render(
        self,
        request: Request,
        page: Page,
        name: str,
        status: int = 200,
        headers: dict[str, str] = HEADERS,
        **content: Any,
    ) -> Response:
        context = {
            "page": page,
            "t": translator(page.lang),
            "html_lang": LANGUAGES[page.lang],
            "languages": LANGUAGES,
            "demo": self.demo,
            **content,
        }
        response = self.templates.TemplateResponse(
            request, name, context, status_code=status, headers=headers
        )
        secure = request.url.scheme == "https"
        if request.query_params.get("lang") == page.lang:
            keep_language(response, page.lang, secure=secure)
        if page.viewer.expired:
            drop_token(response, secure=secure)
        return response

    async def _examples(self) -> list[str]:
        found = await self.source.robots(RobotFilter(), EXAMPLES, None)
        return [record.passport.code for record in found.items]

    async def index(self, request: Request) -> Response:
        page = await self._page(request)
        return self._render(request, page, "index.html", examples=await self._examples())

    async def search(self, request: Request) -> Response:
        typed = request.query_params.get("code", "")
        try:
            code = RobotCode.parse(typed).value
        except RobotCodeError as exc:
            return await self._bad_code(request, typed, exc)
        return RedirectResponse(f"/robots/{code}", status_code=303)

    async def _bad_code(self, request: Request, typed: str, error: RobotCodeError) -> Response:
        page = await self._page(request)
        return self._render(
            request,
            page,
            "index.html",
            status=400,
            typed=typed,
            error=error,
            examples=await self._examples(),
        )

    async def robot(self, request: Request) -> Response:
        typed = request.path_params["code"]
        try:
            code = RobotCode.parse(typed).value
        except RobotCodeError as exc:
            return await self._bad_code(request, typed, exc)
        if code != typed:
            return RedirectResponse(f"/robots/{code}", status_code=301)
        page = await self._page(request)
        record = await self.source.robot(code)
        if record is None:
            return self._render(request, page, "missing.html", status=404, code=code)
        # The view hook appends to the audit log, a database: not on the event loop.
        mask = await asyncio.to_thread(self.view, page.viewer.principal, record)
        if discloses(EventType.SOFTWARE_UPDATED, mask):
            # The log is read anyway for the software updates: check its chain from
            # that read rather than having the source read and hash it a second time.
            events = await self._events(code)
            chain: ChainReport | None = verify(events)
        else:
            events, chain = [], await self.source.integrity(code)
        log = (
            self.source.log_inclusion(code, record.head)
            if isinstance(self.source, LoggedSource)
            else None
        )
        report = build_report(record, events, chain, mask, log)
        t = translator(page.lang)
        charts = [(chart, chart_markup(chart, t)) for chart in report.charts]
        return self._render(
            request,
            page,
            "report.html",
            report=report,
            charts=charts,
            restricted=has_restricted(report),
            alerts=alerts(record.passport, mask, (record.as_of or datetime.now(UTC)).date()),
        )

    async def _events(self, code: str) -> Sequence[Event]:
        events: list[Event] = []
        after: str | None = None
        while True:
            found = await self.source.history(code, 500, after)
            events.extend(found.items)
            if not found.has_next_page:
                return events
            after = found.end_cursor

    async def signin_form(self, request: Request) -> Response:
        page = await self._page(request)
        return self._render(request, page, "signin.html", next=_next(request.query_params))

    async def signin(self, request: Request) -> Response:
        if not same_origin(request):
            return await self._cross_origin(request)
        form = await _form(request)
        target = _next(form)
        token: str | None = None
        client = form.get("client")
        if client and self.demo and any(p.client_id == client for p in self.demo.parties):
            token = self.demo.issue(client)
        elif form.get("token"):
            token = form["token"].strip()
        principal = await principal_of(token, self.verifier) if token else None
        if token is None or principal is None:
            page = await self._page(request)
            return self._render(
                request, page, "signin.html", status=400, next=target, rejected=True
            )
        response = RedirectResponse(target, status_code=303)
        keep_token(response, token, secure=request.url.scheme == "https")
        return response

    async def _cross_origin(self, request: Request) -> Response:
        """403 with the sign-in page and a notice: the form did not come from this site."""
        page = await self._page(request)
        return self._render(request, page, "signin.html", status=403, next="/", cross_origin=True)

    async def signout(self, request: Request) -> Response:
        if not same_origin(request):
            return await self._cross_origin(request)
        response = RedirectResponse(_next(await _form(request)), status_code=303)
        drop_token(response, secure=request.url.scheme == "https")
        return response

    async def verify_form(self, request: Request) -> Response:
        page = await self._page(request)
        return self._render(request, page, "verify.html", form={})

    async def verify(self, request: Request) -> Response:
        """A buyer's or insurer's check of an SD-JWT presentation (`passport_vc.check`).

        It reads nothing stored but this registry's status list, and shows
        only what the presentation itself discloses.
        """
        if not same_origin(request):
            return await self._cross_origin(request)
        page = await self._page(request)
        form = await _form(request, MAX_PRESENTATION_BYTES)
        fields = {k: form.get(k, "").strip() for k in ("presentation", "audience", "nonce")}
        if self.credentials is None:
            return self._render(request, page, "verify.html", 503, form=fields, unavailable=True)
        if not all(fields.values()):
            return self._render(request, page, "verify.html", 400, form=fields, missing=True)
        result = await check(
            self.credentials,
            self.source,
            fields["presentation"],
            fields["audience"],
            fields["nonce"],
        )
        claims = json.dumps(result.claims, ensure_ascii=False, indent=2, sort_keys=True)
        status = 200 if result.valid else 422
        return self._render(
            request, page, "verify.html", status, form=fields, result=result, claims=claims
        )

    async def _owner_page(self, request: Request) -> Page | Response:
        """The page for a signed-in owner; otherwise the way to sign in, or 403."""
        page = await self._page(request)
        if not page.viewer.signed_in:
            return RedirectResponse(f"/signin?{urlencode({'next': '/present'})}", 303)
        if page.viewer.principal.role is not Role.OWNER:
            return self._render(request, page, "present.html", 403, PRESENT_HEADERS, owners=True)
        return page

    async def present_form(self, request: Request) -> Response:
        page = await self._owner_page(request)
        if isinstance(page, Response):
            return page
        return self._render(request, page, "present.html", 200, PRESENT_HEADERS)

    async def present(self, request: Request) -> Response:
        """An owner's credential taken apart so that it can tick the claims to disclose.

        The server only reads the credential (the registry issued it, so it learns
        nothing new); the presentation is built and signed by `present.js` in the
        browser, with a holder key no form on the page has a field to send.
        """
        if not same_origin(request):
            return await self._cross_origin(request)
        page = await self._owner_page(request)
        if isinstance(page, Response):
            return page
        form = await _form(request, MAX_PRESENTATION_BYTES)
        credential = form.get("credential", "").strip()
        if not credential and form.get("code"):
            issued = await self._issue(request, page, form)
            if isinstance(issued, Response):
                return issued
            credential = issued
        if not credential:
            return self._render(request, page, "present.html", 400, PRESENT_HEADERS, missing=True)
        try:
            holding = holding_of(credential)
        except InvalidSDJWT as exc:
            return self._render(request, page, "present.html", 422, PRESENT_HEADERS, invalid=exc)
        data = {
            "jwt": holding.jwt,
            "holder": holding.holder,
            "disclosures": [{"encoded": d, "path": p} for d, p in holding.disclosures],
        }
        return self._render(
            request,
            page,
            "present.html",
            200,
            PRESENT_HEADERS,
            holding=holding,
            data=data,
            credential=credential,
        )

    async def _issue(self, request: Request, page: Page, form: dict[str, str]) -> str | Response:
        """A fresh credential for the owner's robot `code`, bound to the public key it pasted.

        Issued as `issuePassportCredential` issues it (`passport_vc.issue_for`): the
        current owner only, with a write-scoped token. A key with `d` is refused
        unread; the page's script stops such a form before it is sent.
        """

        def refused(status: int, rule: str, message: str) -> Response:
            return self._render(
                request,
                page,
                "present.html",
                status,
                PRESENT_HEADERS,
                refused={"rule": rule, "message": message},
                code=form.get("code", ""),
            )

        if self.credentials is None:
            return refused(503, "unavailable", "this gateway issues no credentials")
        try:
            code = RobotCode.parse(form["code"].strip()).value
        except RobotCodeError as exc:
            return refused(400, f"code.{exc.rule}", str(exc))
        try:
            key = json.loads(form.get("holder_key", ""))
        except ValueError:
            return refused(400, "holder_key", "the holder key is not JSON: paste the public JWK")
        try:
            return await issue_for(self.credentials, self.source, page.viewer.principal, code, key)
        except WriteError as exc:
            status = {"FORBIDDEN": 403, "NOT_FOUND": 404}.get(exc.code, 400)
            return refused(status, exc.rule or exc.code, exc.message)


def _next(values: Any) -> str:
    """Where to go after a form: a path on this site only, never another host."""
    target = values.get("next") or "/"
    return target if _LOCAL_PATH.fullmatch(target) else "/"


def same_origin(request: Request) -> bool:
    """Whether a form POST provably comes from this site's own pages (login CSRF defence).

    Browsers send `Origin` on every POST and, with Fetch Metadata, `Sec-Fetch-Site`.
    A POST is accepted when `Origin` is this site's origin, or, without `Origin`, when
    `Sec-Fetch-Site` is `same-origin`. Anything else is refused: no `Origin` and no
    `Sec-Fetch-Site` (a non-browser client, or a stripped header: deny by default),
    `Origin: null`, a foreign origin, a `Sec-Fetch-Site` other than `same-origin`
    (`same-site` included: a sibling subdomain is another site here), and `Referer`
    alone, which proves nothing and is never consulted.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.strip().lower() != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return fetch_site is not None
    return origin == f"{request.url.scheme}://{request.url.netloc}"


async def _form(request: Request, limit: int = MAX_FORM_BYTES) -> dict[str, str]:
    """The urlencoded body; the gateway does without python-multipart."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if kind != "application/x-www-form-urlencoded" or len(body) > limit:
        return {}
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=False))
    except (UnicodeDecodeError, ValueError):
        return {}


def report_routes(
    services: Services, view: View, demo: DemoSignIn | None = None
) -> list[BaseRoute]:
    """The report's routes, to mount next to /graphql."""
    return ReportSite(services, view, demo).routes()
