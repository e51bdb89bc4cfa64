"""The robot history report: server-rendered pages for people, policy-aware."""

from .routes import ReportSite, report_routes
from .session import DemoParty, DemoSignIn, demo_sign_in

__all__ = ["DemoParty", "DemoSignIn", "ReportSite", "demo_sign_in", "report_routes"]
