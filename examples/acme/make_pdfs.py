"""Generate the PDF documents of the Acme Robotics sample corpus.

Usage::

    .venv/bin/python examples/acme/make_pdfs.py [OUTPUT_DIR]

OUTPUT_DIR defaults to ``examples/acme/docs`` (next to this script). Each PDF is
written to its subfolder (``products/``, ``policies/``, ...) under OUTPUT_DIR.

The output is deterministic: the creation date is fixed and all content is
defined in this file, so regenerating produces the same extracted text (and, with
the same fpdf2 version, the same bytes). Only fpdf2's core Helvetica font is used,
so all text must be latin-1.

Each document is a list of pages; each page is a list of blocks:
``("h1", text)``, ``("h2", text)``, ``("p", text)``, ``("ul", [items])``,
``("ol", [items])`` and ``("table", [header_row, *rows])``. Pages never overflow
(the generator raises if one would), so every fact stays on the physical page
recorded in ``qa.jsonl``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

FIXED_DATE = datetime(2025, 7, 1, 12, 0, 0, tzinfo=UTC)
HERE = Path(__file__).resolve().parent

Block = tuple


@dataclass
class Doc:
    path: str  # relative to the docs directory
    title: str
    header: str
    pages: list[list[Block]]
    # Optional page-label ranges: (first physical page index 0-based, style, start).
    # style is an fpdf2 PageLabelStyle value: "r" lower roman, "D" decimal.
    labels: list[tuple[int, str, int]] = field(default_factory=list)


def _roman(n: int) -> str:
    vals = [(10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")]
    out = ""
    for v, s in vals:
        while n >= v:
            out += s
            n -= v
    return out


def page_label(doc: Doc, index: int) -> str:
    """Printed label of the physical page ``index`` (0-based)."""
    if not doc.labels:
        return str(index + 1)
    current = None
    for start, style, first in doc.labels:
        if index >= start:
            current = (start, style, first)
    assert current is not None
    start, style, first = current
    n = first + index - start
    return _roman(n) if style == "r" else str(n)


class _PDF(FPDF):
    def __init__(self, doc: Doc) -> None:
        super().__init__(format="A4")
        self.doc = doc
        self.set_auto_page_break(False)
        self.set_margins(20, 22, 20)

    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(110, 110, 110)
        self.set_xy(20, 10)
        self.cell(0, 5, self.doc.header)
        self.set_text_color(0, 0, 0)
        self.set_xy(20, 22)

    def footer(self) -> None:
        label = page_label(self.doc, self.page_no() - 1)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110, 110, 110)
        self.set_xy(20, 284)
        self.cell(0, 5, f"{self.doc.title} - Page {label}", align="C")
        self.set_text_color(0, 0, 0)


def _render_block(pdf: _PDF, block: Block) -> None:
    kind, content = block[0], block[1]
    width = pdf.w - pdf.l_margin - pdf.r_margin
    if kind == "h1":
        pdf.set_font("Helvetica", "B", 18)
        pdf.multi_cell(width, 9, content)
        pdf.ln(3)
    elif kind == "h2":
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(width, 7, content)
        pdf.ln(1)
    elif kind == "p":
        pdf.set_font("Helvetica", "", 10.5)
        pdf.multi_cell(width, 5.5, content)
        pdf.ln(2)
    elif kind in ("ul", "ol"):
        pdf.set_font("Helvetica", "", 10.5)
        for i, item in enumerate(content, start=1):
            marker = f"{i}." if kind == "ol" else "-"
            pdf.set_x(pdf.l_margin + 2)
            pdf.cell(7, 5.5, marker)
            pdf.multi_cell(width - 9, 5.5, item)
            pdf.ln(0.8)
        pdf.ln(1.5)
    elif kind == "table":
        header, *rows = content
        ncol = len(header)
        col_w = width / ncol
        for r, row in enumerate([header, *rows]):
            pdf.set_font("Helvetica", "B" if r == 0 else "", 9.5)
            y = pdf.get_y()
            heights = []
            for c, cell in enumerate(row):
                pdf.set_xy(pdf.l_margin + c * col_w, y)
                pdf.multi_cell(col_w, 5.2, cell, border=0)
                heights.append(pdf.get_y() - y)
            pdf.set_xy(pdf.l_margin, y + max(heights) + 1)
            pdf.line(pdf.l_margin, pdf.get_y() - 0.5, pdf.l_margin + width, pdf.get_y() - 0.5)
        pdf.ln(3)
    else:  # pragma: no cover - programming error
        raise ValueError(f"unknown block kind {kind!r}")
    if pdf.get_y() > 278:
        raise RuntimeError(f"{pdf.doc.path}: page {pdf.page_no()} overflows at {content!r:.60}")


def build(doc: Doc, out_dir: Path) -> Path:
    pdf = _PDF(doc)
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(doc.title)
    pdf.set_author("Acme Robotics, Inc.")
    pdf.set_creator("examples/acme/make_pdfs.py")
    pdf.set_producer("fpdf2")
    label_starts = {start: (style, first) for start, style, first in doc.labels}
    for index, blocks in enumerate(doc.pages):
        if index in label_starts:
            style, first = label_starts[index]
            pdf.add_page(label_style=style, label_start=first)
        else:
            pdf.add_page()
        for block in blocks:
            _render_block(pdf, block)
    target = out_dir / doc.path
    target.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(target))
    return target


# ---------------------------------------------------------------------------
# Document content
# ---------------------------------------------------------------------------

X9_MANUAL = Doc(
    path="products/sweepbot-x9-pro-user-manual.pdf",
    title="SweepBot X9 Pro User Manual",
    header="Acme Robotics - SweepBot X9 Pro (ARV-X900P) - User Manual UM-X900P-EN-01",
    labels=[(0, "r", 1), (3, "D", 1)],
    pages=[
        [  # i
            ("h1", "SweepBot X9 Pro User Manual"),
            (
                "p",
                "Robot vacuum with AutoDock E2 self-emptying dock and mopping module. "
                "Model number ARV-X900P.",
            ),
            (
                "p",
                "Manual part number UM-X900P-EN-01. Document version 1.0, published "
                "January 2024 for robot firmware 2.9.",
            ),
            ("h2", "About this manual"),
            (
                "p",
                "This manual explains how to set up, use and care for your SweepBot X9 Pro. "
                "Read the safety instructions on the next page before first use and keep "
                "this manual for future reference. Features added by later firmware "
                "updates are described in the firmware release notes on "
                "acmerobotics.example, which take precedence over this manual.",
            ),
            ("h2", "Copyright and trademarks"),
            (
                "p",
                "Copyright 2024 Acme Robotics, Inc., 2200 Foundry Lane, Portland, Oregon "
                "97209, United States. SweepBot, MopMate, AutoDock and Acme Care are "
                "trademarks of Acme Robotics, Inc. All other trademarks are the property "
                "of their respective owners.",
            ),
            ("h2", "Regulatory information"),
            (
                "p",
                "FCC ID: 2AXQ7-X900P. IC: 27341-X900P. This device complies with part 15 of "
                "the FCC Rules. Operation is subject to the following two conditions: (1) "
                "this device may not cause harmful interference, and (2) this device must "
                "accept any interference received, including interference that may cause "
                "undesired operation.",
            ),
        ],
        [  # ii
            ("h1", "Important Safety Instructions"),
            (
                "p",
                "When using an electrical appliance, basic precautions should always be "
                "followed, including the following. Failure to follow these instructions "
                "may result in fire, electric shock or injury and may void the warranty.",
            ),
            (
                "ul",
                [
                    "For indoor household use only. Do not use the robot outdoors, in "
                    "commercial premises, or on wet surfaces.",
                    "Operate the robot only at room temperatures between 0 and 40 degrees C.",
                    "Do not let children under 8 years play with the robot or the dock.",
                    "Remove cords, clothing, curtains and fragile objects from the floor before "
                    "cleaning. Lift curtains that touch the floor.",
                    "Do not use the robot to pick up burning or smoking material, liquids, "
                    "broken glass or construction dust.",
                    "Use only the AutoDock E2 supplied with the robot and the original power "
                    "cord. Do not use a damaged cord or plug.",
                    "Use only the genuine Acme replacement battery AR-B900. Other batteries may "
                    "overheat.",
                    "Switch the robot off before transporting it, and carry it using both hands.",
                    "The robot contains a Class 1 laser product (LiDAR sensor). Do not look "
                    "directly into the laser window.",
                ],
            ),
            ("h2", "Battery disposal"),
            (
                "p",
                "The robot contains a lithium-ion battery. Do not dispose of it with "
                "household waste. Return used batteries to a battery collection point or "
                "through the Acme Take-Back program.",
            ),
        ],
        [  # iii
            ("h1", "Contents"),
            (
                "table",
                [
                    ["Chapter", "Page"],
                    ["1. In the box and product overview", "1"],
                    ["2. Setting up your robot", "2"],
                    ["3. Cleaning modes and settings", "3"],
                    ["4. AutoDock E2 self-emptying dock", "4"],
                    ["5. Technical specifications", "5"],
                ],
            ),
            ("h2", "Symbols used in this manual"),
            (
                "ul",
                [
                    "NOTE: useful information that helps you get more from the robot.",
                    "CAUTION: information that prevents damage to the robot or your home.",
                    "WARNING: information that prevents injury.",
                ],
            ),
            ("h2", "Getting help"),
            (
                "p",
                "Visit acmerobotics.example/support for help articles, error codes and "
                "videos, or contact Acme support. Have the serial number ready: it is "
                "printed under the dustbin and starts with AR.",
            ),
        ],
        [  # 1
            ("h1", "1. In the Box and Product Overview"),
            ("h2", "In the box"),
            (
                "ul",
                [
                    "SweepBot X9 Pro robot (ARV-X900P)",
                    "AutoDock E2 self-emptying dock with power cord",
                    "Mopping module with 240 mL water tank and one mop pad",
                    "Two dust bags for the AutoDock E2 (one pre-installed)",
                    "One spare side brush and one spare HEPA filter",
                    "Cleaning tool for the main brush",
                    "Quick start guide",
                ],
            ),
            ("h2", "Robot overview"),
            (
                "p",
                "Top: LiDAR turret, three buttons (Power, Home, Spot) and the status light. "
                "Front: bumper with obstacle camera and 3D structured-light sensor. "
                "Underside: six cliff sensors, two drive wheels, the front caster, one side "
                "brush and the rubber main brush. Rear: dustbin and mopping module slot.",
            ),
            ("h2", "Buttons"),
            (
                "ul",
                [
                    "Power: press to start or pause cleaning; hold 3 seconds to switch on or off.",
                    "Home: press to send the robot back to the dock.",
                    "Spot: press to clean a 1.5 m by 1.5 m area around the robot.",
                ],
            ),
        ],
        [  # 2
            ("h1", "2. Setting Up Your Robot"),
            ("h2", "Placing the AutoDock E2"),
            (
                "p",
                "Place the dock against a wall on a hard, level floor with a Wi-Fi signal. "
                "Leave 0.5 m of clear space on each side of the dock and 1.5 m in front "
                "of it. Keep the dock at least 1.2 m away from stairs.",
            ),
            ("h2", "First charge"),
            (
                "p",
                "Remove the protective strips from the bumper and the cliff sensors. "
                "Switch the robot on and place it on the dock. Before the first cleaning "
                "run, charge the battery fully. A full charge takes about 3.5 hours "
                "(210 minutes).",
            ),
            ("h2", "Connecting to the app"),
            (
                "p",
                "Download the Acme Home app. The app requires iOS 15 or later or Android "
                "9 or later. The X9 Pro supports both 2.4 GHz and 5 GHz Wi-Fi networks. "
                "To start pairing, hold the Wi-Fi button under the top cover for 3 "
                "seconds until the status light flashes blue, then follow the steps in "
                "the app.",
            ),
            ("h2", "First mapping run"),
            (
                "p",
                "On its first run, the X9 Pro explores the whole floor and creates a map. "
                "Open all interior doors and turn on the lights. Mapping a 100 square meter "
                "floor takes about 12 minutes in fast mapping mode, which does not clean.",
            ),
            (
                "p",
                "CAUTION: Do not move the dock after the first map has been created. If "
                "you have to move it, start a new full clean so the robot can find it.",
            ),
        ],
        [  # 3
            ("h1", "3. Cleaning Modes and Settings"),
            ("h2", "Suction modes"),
            (
                "p",
                "The X9 Pro has four suction modes: Quiet, Standard, Turbo and Max. The "
                "default suction mode for new cleaning jobs is Standard. You can set a "
                "different suction mode for each room in the app.",
            ),
            (
                "table",
                [
                    ["Mode", "Suction", "Typical use"],
                    ["Quiet", "1,800 Pa", "Daily cleaning at night"],
                    ["Standard", "3,000 Pa", "Daily cleaning"],
                    ["Turbo", "4,500 Pa", "Rugs and pet hair"],
                    ["Max", "6,000 Pa", "Deep cleaning, thick carpet"],
                ],
            ),
            ("h2", "Mopping"),
            (
                "p",
                "Fill the mopping module's 240 mL tank and attach it to the back of the "
                "robot. When the robot detects carpet, it lifts the mop pad by 7 mm so "
                "rugs stay dry. Remove the mopping module before cleaning high-pile "
                "carpet.",
            ),
            ("h2", "Do Not Disturb"),
            (
                "p",
                "During Do Not Disturb, the robot does not start unscheduled jobs and its "
                "voice prompts are muted. By default, Do Not Disturb runs from 22:00 to "
                "07:00. Change the window in the app under Robot settings > Do Not "
                "Disturb.",
            ),
            ("h2", "Child lock"),
            (
                "p",
                "Turn on Child lock in the app to disable the robot's buttons. Hold the "
                "Power button for 5 seconds to override it in an emergency.",
            ),
        ],
        [  # 4
            ("h1", "4. AutoDock E2 Self-Emptying Dock"),
            (
                "p",
                "The AutoDock E2 empties the robot's dustbin into a sealed dust bag "
                "automatically when the robot returns to the dock.",
            ),
            ("h2", "Dust bag"),
            (
                "p",
                "The dust bag holds 3.0 liters. In a typical home it lasts up to 60 days "
                "before it needs replacing. The app warns you when the bag is full. Use "
                "only genuine Acme dust bags (part AR-P220).",
            ),
            ("h2", "Emptying cycle"),
            (
                "p",
                "An emptying cycle takes about 12 seconds. The dock is loud while it "
                "empties (up to 78 dB). During Do Not Disturb, the dock waits to empty the "
                "robot until the window ends.",
            ),
            ("h2", "Dock dimensions"),
            ("p", "Width 320 mm, depth 390 mm, height 435 mm. Weight 5.2 kg without a dust bag."),
            ("h2", "Cleaning the dock"),
            (
                "ol",
                [
                    "Unplug the dock.",
                    "Open the lid and remove the dust bag.",
                    "Wipe the evacuation port (the opening where the robot docks) with a dry "
                    "cloth.",
                    "Check the air duct for blockages such as socks or paper.",
                    "Insert a new dust bag and plug the dock back in.",
                ],
            ),
        ],
        [  # 5
            ("h1", "5. Technical Specifications"),
            (
                "table",
                [
                    ["Item", "Specification"],
                    ["Model", "ARV-X900P"],
                    ["Battery", "6,400 mAh lithium-ion, 14.4 V"],
                    ["Runtime", "Up to 180 minutes (Quiet mode, hard floor)"],
                    ["Charge time", "About 210 minutes"],
                    ["Maximum suction", "6,000 Pa (Max mode)"],
                    ["Dimensions", "348 mm diameter, 99 mm height"],
                    ["Weight", "4.1 kg"],
                    ["Dustbin", "400 mL"],
                    ["Mopping tank", "240 mL"],
                    ["Threshold climbing", "Up to 22 mm"],
                    ["Maps", "Up to 5 floors"],
                    ["Wi-Fi", "2.4 GHz and 5 GHz, 802.11 a/b/g/n/ac"],
                    ["Noise", "55 dB (Quiet mode)"],
                    ["Rated input", "20 V DC, 1.2 A"],
                ],
            ),
            (
                "p",
                "Specifications are subject to change without notice. Runtime measured in "
                "the Acme lab on hard floor with a new battery.",
            ),
        ],
    ],
)

SECURITY_WHITEPAPER = Doc(
    path="policies/security-whitepaper-2025.pdf",
    title="Acme Security Whitepaper 2025",
    header="Acme Robotics - Security Whitepaper - Version 2025.1 - Public",
    pages=[
        [
            ("h1", "Acme Robotics Security Whitepaper"),
            (
                "p",
                "Version 2025.1. Effective 15 January 2025. This whitepaper replaces the "
                "Customer Account Security Policy SEC-POL-004 (version 1.3, 2022).",
            ),
            ("h2", "Purpose"),
            (
                "p",
                "This document describes how Acme Robotics protects customer accounts, "
                "robots and the data they produce. It is written for customers, IT "
                "administrators of Acme for Business organizations, and security "
                "reviewers. It covers the Acme Home app, the Acme cloud, the Acme Cloud "
                "API and robot firmware.",
            ),
            ("h2", "Compliance"),
            (
                "p",
                "The Acme cloud is audited annually against the SOC 2 Type II criteria "
                "for security, availability and confidentiality. The most recent report "
                "covers the period 1 October 2023 to 30 September 2024. Business "
                "customers can request the report under NDA from their account manager.",
            ),
            ("h2", "Shared responsibility"),
            (
                "p",
                "Acme is responsible for the security of the cloud, the apps and robot "
                "firmware. Customers are responsible for protecting their passwords and "
                "second factors, keeping the app up to date, and securing their home "
                "Wi-Fi network.",
            ),
            ("h2", "Summary of changes from the 2022 policy"),
            (
                "ul",
                [
                    "Minimum password length raised from 8 to 12 characters.",
                    "Account lockout after 5 failed attempts instead of 10.",
                    "Cleaning history retention reduced from 365 days to 180 days.",
                    "Encryption key rotation every 90 days instead of every 365 days.",
                    "Paid bug bounty program introduced.",
                ],
            ),
        ],
        [
            ("h1", "1. Account Security"),
            ("h2", "Password requirements"),
            (
                "p",
                "Passwords for Acme accounts must be at least 12 characters long. There "
                "are no other composition rules; we encourage long passphrases. New "
                "passwords are checked against a list of passwords known from public data "
                "breaches, and matching passwords are rejected. A password cannot contain "
                "the account's email address.",
            ),
            ("h2", "Password storage"),
            (
                "p",
                "Passwords are hashed with Argon2id using a unique salt per account. "
                "Acme staff cannot see or recover your password.",
            ),
            ("h2", "Failed sign-in attempts"),
            (
                "p",
                "After 5 failed sign-in attempts in a row, sign-in to the account is "
                "locked for 15 minutes. The account owner is notified by email. Repeated "
                "lockouts from unfamiliar locations trigger a mandatory password reset.",
            ),
            ("h2", "Password reset"),
            (
                "p",
                "Password reset links are valid for 60 minutes and can be used only once. "
                "Resetting the password signs the account out of all devices.",
            ),
            ("h2", "Sessions"),
            (
                "p",
                "App and web sessions expire after 30 days of inactivity. You can review "
                "active sessions and sign out of all devices under Account > Security > "
                "Active sessions.",
            ),
        ],
        [
            ("h1", "2. Two-Step Verification"),
            (
                "p",
                "Two-step verification (2SV) adds a second factor to the password. It is "
                "optional but strongly recommended for Free, Plus and Premium accounts. "
                "For Acme for Business organizations, 2SV is mandatory for every user "
                "with the Owner or Admin role.",
            ),
            ("h2", "Supported second factors"),
            (
                "ul",
                [
                    "Authenticator apps using time-based one-time passwords (TOTP).",
                    "Passkeys (supported since Acme Home app 5.3).",
                    "SMS codes. SMS is being phased out: no new SMS enrollments are accepted "
                    "after 30 September 2025, and existing SMS users will be asked to switch.",
                ],
            ),
            ("h2", "Backup codes"),
            (
                "p",
                "When you turn on 2SV you receive 10 single-use backup codes. Store them "
                "somewhere safe. Generating new codes invalidates all old ones.",
            ),
            ("h2", "Turning on two-step verification"),
            (
                "ol",
                [
                    "Open the Acme Home app and go to Account > Security.",
                    "Tap Two-step verification and enter your password.",
                    "Choose a method: authenticator app, passkey or SMS.",
                    "Complete the enrollment, then save your backup codes.",
                ],
            ),
            ("h2", "Lost second factor"),
            (
                "p",
                "If you lose your second factor and your backup codes, contact support. "
                "For security, identity verification and account recovery take at least "
                "72 hours.",
            ),
        ],
        [
            ("h1", "3. Encryption and Device Security"),
            ("h2", "Data in transit"),
            (
                "p",
                "All connections between the app, the website, the API and the Acme cloud "
                "use TLS 1.3 where the client supports it, with TLS 1.2 as the minimum "
                "version. Older protocol versions are rejected.",
            ),
            ("h2", "Robot to cloud"),
            (
                "p",
                "Each robot has a unique device certificate installed at the factory and "
                "connects to the cloud using mutual TLS. A robot whose certificate has "
                "been revoked cannot connect. Firmware images are signed, and robots "
                "refuse to install an update with an invalid signature.",
            ),
            ("h2", "Data at rest"),
            (
                "p",
                "Customer data in the Acme cloud is encrypted at rest with AES-256. Floor "
                "maps are additionally encrypted with a per-account key. Encryption keys "
                "are stored in a hardware-backed key management service and rotated every "
                "90 days.",
            ),
            ("h2", "On-device processing"),
            (
                "p",
                "Images from the SweepBot X9 Pro obstacle camera are processed on the "
                "robot. They are uploaded only when the customer has turned on Obstacle "
                "photo review.",
            ),
            ("h2", "Infrastructure"),
            (
                "p",
                "The Acme cloud runs in two regions: Oregon (United States) and Frankfurt "
                "(Germany). Production access is limited to on-call engineers, requires "
                "hardware security keys, and is logged.",
            ),
        ],
        [
            ("h1", "4. Data Retention"),
            (
                "table",
                [
                    ["Data", "Retention"],
                    ["Cleaning history", "180 days"],
                    ["Robot diagnostic logs", "30 days"],
                    ["Obstacle photos (if enabled)", "7 days"],
                    ["Support chat and email transcripts", "2 years"],
                    ["Call recordings (with consent)", "90 days"],
                    ["Cloud backups", "35 days"],
                    ["Data of deleted accounts", "Deleted within 30 days"],
                ],
            ),
            ("p", "Invoices and payment records are kept for 7 years to meet tax requirements."),
            ("h1", "5. Vulnerability Disclosure"),
            (
                "p",
                "Report security vulnerabilities to security@acmerobotics.example. We "
                "acknowledge reports within 3 business days. Through our bug bounty "
                "program, valid reports receive rewards of up to $10,000 depending on "
                "severity. Please do not access other customers' data or disrupt the "
                "service while testing.",
            ),
            ("h2", "Incident notification"),
            (
                "p",
                "If a security incident affects customer data, we notify affected "
                "customers and authorities without undue delay and within 72 hours of "
                "confirming the incident.",
            ),
        ],
    ],
)

PRICE_SHEET_2023 = Doc(
    path="plans/price-sheet-2023.pdf",
    title="Acme Care Price Sheet 2023",
    header="ARCHIVED - superseded by the prices effective 1 March 2025 - for reference only",
    pages=[
        [
            ("h1", "Acme Care Price Sheet 2023"),
            (
                "p",
                "Prices effective 1 February 2023 for customers in the United States. "
                "Prices are in US dollars and exclude sales tax.",
            ),
            ("h2", "Plans at a glance"),
            (
                "table",
                [
                    ["Plan", "Monthly", "Annual"],
                    ["Free", "$0", "$0"],
                    ["Plus", "$9.99 per month", "$99 per year"],
                    ["Premium", "$16.99 per month", "$169 per year"],
                ],
            ),
            (
                "p",
                "Acme Care is an optional subscription for owners of SweepBot robots. "
                "All robots can be used with the Free plan. Paid plans add household "
                "members, longer cleaning history and cloud storage for map backups.",
            ),
            ("h2", "Why upgrade?"),
            (
                "ul",
                [
                    "Share your robots with the whole household.",
                    "Keep more cleaning history to see trends.",
                    "Back up maps so a reset never loses your rooms.",
                    "Premium: extended warranty and priority support.",
                ],
            ),
        ],
        [
            ("h1", "Plan Features"),
            (
                "table",
                [
                    ["Feature", "Free", "Plus", "Premium"],
                    ["Household members", "2", "3", "6"],
                    ["Cloud storage", "500 MB", "20 GB", "100 GB"],
                    ["Cleaning history", "7 days", "30 days", "90 days"],
                    ["Homes", "1", "1", "3"],
                    ["Warranty extension", "None", "None", "1 year"],
                    ["Support", "Email", "Email and chat", "Priority phone"],
                ],
            ),
            ("h2", "Notes"),
            (
                "ul",
                [
                    "Premium extends the robot warranty by 1 year while the subscription is "
                    "active.",
                    "Priority phone support is available Monday to Friday, 6:00 a.m. to 8:00 "
                    "p.m. Pacific Time.",
                    "Annual plans renew automatically; a reminder is sent 7 days before renewal.",
                ],
            ),
        ],
        [
            ("h1", "Acme for Business and Regional Prices"),
            ("h2", "Acme for Business"),
            (
                "p",
                "Acme for Business costs $29 per seat per month, billed annually. A "
                "minimum of 10 seats is required. Includes the admin console, 500 GB "
                "pooled storage and email support.",
            ),
            ("h2", "Regional prices (monthly)"),
            (
                "table",
                [
                    ["Plan", "Canada", "EU", "UK"],
                    ["Plus", "CAD 12.99", "EUR 9.99", "GBP 8.49"],
                    ["Premium", "CAD 21.99", "EUR 16.99", "GBP 14.49"],
                ],
            ),
            ("h2", "Terms"),
            (
                "p",
                "Prices may change with 30 days' notice. Monthly plans can be cancelled at "
                "any time. Annual plans cancelled within 14 days of purchase receive a "
                "prorated refund.",
            ),
        ],
    ],
)

BUSINESS_GUIDE = Doc(
    path="business/acme-for-business-admin-guide.pdf",
    title="Acme for Business Admin Guide",
    header="Acme for Business - Administrator Guide - Edition 2025-03",
    pages=[
        [
            ("h1", "Acme for Business Admin Guide"),
            (
                "p",
                "Edition 2025-03, for the Acme for Business plan as priced from 1 March "
                "2025. Audience: IT administrators and facility managers.",
            ),
            ("h2", "What is Acme for Business?"),
            (
                "p",
                "Acme for Business lets organizations such as offices, clinics, hotels and "
                "property managers run a fleet of Acme robots from one admin console, with "
                "single sign-on, role-based access and consolidated billing. Commercial use "
                "of Acme robots is covered by the warranty only under an Acme for Business "
                "agreement.",
            ),
            ("h2", "Plan limits"),
            (
                "ul",
                [
                    "Price: $39 per seat per month, billed annually.",
                    "Seats: minimum 5, maximum 250 per organization. Larger organizations can "
                    "use several linked organizations.",
                    "Robots: up to 20 robots per seat.",
                    "Storage: 1 TB pooled across the organization.",
                ],
            ),
            ("h2", "Payment"),
            (
                "p",
                "Business customers can pay by card or by invoice. Invoices are payable "
                "within 30 days (net 30). Purchase orders are supported.",
            ),
        ],
        [
            ("h1", "1. The Admin Console"),
            (
                "p",
                "The admin console is available at business.acmerobotics.example. Sign in "
                "with your organization's single sign-on or with an Acme account that has "
                "the Owner or Admin role.",
            ),
            ("h2", "Roles"),
            (
                "table",
                [
                    ["Role", "Permissions"],
                    ["Owner", "Everything, including billing and deleting the organization"],
                    ["Admin", "Manage users, sites, robots and settings; no billing"],
                    ["Site manager", "Manage robots and schedules at assigned sites"],
                    ["Member", "Start, pause and dock robots at assigned sites"],
                ],
            ),
            (
                "p",
                "Each organization has exactly one Owner. Ownership can be transferred "
                "under Settings > Organization > Transfer ownership.",
            ),
            ("h2", "Sites"),
            (
                "p",
                "A site is a building or location with its own Wi-Fi network and maps. "
                "Robots belong to one site at a time. To move a robot, select it under "
                "Robots and choose Move to site; its maps are not transferred.",
            ),
        ],
        [
            ("h1", "2. Single Sign-On and Provisioning"),
            ("h2", "SAML single sign-on"),
            (
                "p",
                "Acme for Business supports SAML 2.0 single sign-on. Tested identity "
                "providers are Okta, Microsoft Entra ID and Google Workspace.",
            ),
            (
                "ol",
                [
                    "In the admin console, open Settings > Security > Single sign-on.",
                    "Copy the Acme ACS URL and entity ID into your identity provider.",
                    "Upload your identity provider's metadata XML file.",
                    "Test the connection with one user, then turn on Enforce SSO.",
                ],
            ),
            (
                "p",
                "When Enforce SSO is on, users can no longer sign in with an Acme password. "
                "The Owner can always sign in with a password and two-step verification as "
                "a break-glass account.",
            ),
            ("h2", "SCIM provisioning"),
            (
                "p",
                "Users and groups can be provisioned automatically with SCIM 2.0. "
                "Deprovisioned users lose access within 15 minutes and their seat becomes "
                "free immediately.",
            ),
            ("h2", "Two-step verification"),
            (
                "p",
                "Two-step verification is required for Owners and Admins. Admins can also "
                "require it for all users under Settings > Security.",
            ),
        ],
        [
            ("h1", "3. Fleet Management"),
            ("h2", "Firmware update windows"),
            (
                "p",
                "By default, business robots install firmware updates between 01:00 and "
                "05:00 local site time. Admins can choose a different 4-hour window per "
                "site, or postpone an update for up to 30 days.",
            ),
            ("h2", "Deployment rings"),
            (
                "p",
                "Assign sites to one of two rings: Early and Broad. Robots in the Early "
                "ring receive updates first; the Broad ring follows 7 days later.",
            ),
            ("h2", "Reports"),
            (
                "p",
                "The Reports page shows area cleaned, runtime, errors and consumable "
                "status per site. Reports can be exported as CSV or scheduled by email "
                "weekly or monthly.",
            ),
            ("h2", "On-site service"),
            (
                "p",
                "Organizations with 50 or more seats receive on-site service in supported "
                "US metro areas with a next business day response. Smaller organizations "
                "use the standard mail-in warranty process.",
            ),
            ("h2", "Service level"),
            (
                "p",
                "The Acme cloud has a monthly uptime commitment of 99.9% for Acme for "
                "Business. If uptime falls below 99.9%, the customer receives a service "
                "credit of 10% of the monthly fee; below 99.0%, the credit is 25%.",
            ),
        ],
        [
            ("h1", "4. Billing, Seats and Cancellation"),
            ("h2", "Adding and removing seats"),
            (
                "p",
                "Seats added during the subscription year are billed immediately, prorated "
                "to the renewal date. Seats removed take effect at the next renewal; no "
                "partial refunds are given for removed seats.",
            ),
            ("h2", "Renewal and cancellation"),
            (
                "p",
                "Subscriptions renew automatically for another year. To cancel, the Owner "
                "must give written notice at least 30 days before the renewal date, by "
                "email to business@acmerobotics.example or in the console under Billing > "
                "Cancel renewal.",
            ),
            ("h2", "Data after cancellation"),
            (
                "p",
                "After the subscription ends, the organization becomes read-only for 30 "
                "days so admins can export reports and maps. After that, organization data "
                "is deleted.",
            ),
            ("h2", "Getting help"),
            (
                "p",
                "Business support is available by email at business@acmerobotics.example "
                "and by phone during North American support hours. Organizations with 50 "
                "or more seats also have a dedicated account manager.",
            ),
        ],
    ],
)

HOMEHUB_QUICK_START = Doc(
    path="products/homehub-h2-quick-start.pdf",
    title="HomeHub H2 Quick Start Guide",
    header="Acme Robotics - HomeHub H2 (ARH-H200) - Quick Start Guide QS-H200-EN-02",
    pages=[
        [
            ("h1", "HomeHub H2 Quick Start Guide"),
            ("p", "Model ARH-H200. Guide version 2, February 2025."),
            (
                "p",
                "The HomeHub H2 connects your Acme robots to other smart home devices. It "
                "speaks Matter, Zigbee 3.0 and Thread, so robots can react to sensors, "
                "locks and buttons from other brands, and other Matter controllers can "
                "start and stop Acme robots.",
            ),
            ("h2", "In the box"),
            (
                "ul",
                [
                    "HomeHub H2 (ARH-H200)",
                    "USB-C power adapter, 5 V 2 A, with 1.8 m cable",
                    "Ethernet cable, 1 m",
                    "Quick start guide",
                ],
            ),
            ("h2", "What you need"),
            (
                "ul",
                [
                    "An Acme account and the Acme Home app 5.2 or later.",
                    "An Ethernet port on your router, or a 2.4 GHz Wi-Fi network.",
                    "A free power outlet within reach of the cable.",
                ],
            ),
            ("h2", "Status light"),
            (
                "table",
                [
                    ["Light", "Meaning"],
                    ["Pulsing white", "Starting up"],
                    ["Flashing green", "Ready to set up"],
                    ["Solid green", "Online"],
                    ["Solid red", "No internet connection"],
                ],
            ),
        ],
        [
            ("h1", "Setting Up the HomeHub H2"),
            (
                "ol",
                [
                    "Place the hub in a central location, at least 1 m away from your Wi-Fi "
                    "router and from microwave ovens.",
                    "Connect the Ethernet cable (recommended) or skip it to use Wi-Fi.",
                    "Plug in the power adapter. Wait until the light flashes green, about 40 "
                    "seconds.",
                    "In the Acme Home app, tap Add device > HomeHub H2 and scan the QR code on "
                    "the bottom of the hub.",
                    "If you are not using Ethernet, choose your 2.4 GHz Wi-Fi network.",
                    "Wait until the light is solid green. The app then offers to add robots "
                    "already on your account to the hub.",
                ],
            ),
            ("h2", "Adding Matter and Zigbee devices"),
            (
                "p",
                "Tap the hub in the app, then Add accessory. Matter devices are added by "
                "scanning their Matter QR code. Zigbee devices must first be put into "
                "pairing mode following their own instructions. The hub supports up to "
                "64 Zigbee devices and 32 Matter devices.",
            ),
            ("h2", "Automations"),
            (
                "p",
                "Create automations under Home > Automations. Example: when the front door "
                "lock reports locked and nobody is home, start the SweepBot. Automations "
                "run locally on the hub and keep working if your internet connection is "
                "down.",
            ),
        ],
        [
            ("h1", "Troubleshooting and Specifications"),
            ("h2", "Resetting the hub"),
            (
                "p",
                "To restart the hub, unplug it for 10 seconds. To restore factory "
                "settings, press and hold the reset button on the bottom with a paper clip "
                "for 12 seconds until the light turns pulsing white. A factory reset "
                "removes all paired accessories and automations.",
            ),
            ("h2", "Common problems"),
            (
                "ul",
                [
                    "Solid red light: check the Ethernet cable or Wi-Fi password, then restart "
                    "the hub.",
                    "A Zigbee device keeps disconnecting: add a mains-powered Zigbee device, "
                    "such as a smart plug, between the hub and the device to extend range.",
                    "The app cannot find the hub: make sure your phone is on the same network "
                    "and Bluetooth is on.",
                ],
            ),
            ("h2", "Specifications"),
            (
                "table",
                [
                    ["Item", "Specification"],
                    ["Model", "ARH-H200"],
                    ["Radios", "Wi-Fi 2.4 GHz, Zigbee 3.0, Thread, Bluetooth LE"],
                    ["Ethernet", "10/100 Mbps"],
                    ["Power", "5 V DC, 2 A, USB-C"],
                    ["Size", "98 x 98 x 28 mm"],
                    ["Weight", "145 g"],
                    ["Operating temperature", "0 to 40 degrees C"],
                ],
            ),
            (
                "p",
                "The HomeHub H2 has a 24-month limited warranty. See the Acme Robotics "
                "Limited Warranty for details.",
            ),
        ],
    ],
)

DOCS = [X9_MANUAL, SECURITY_WHITEPAPER, PRICE_SHEET_2023, BUSINESS_GUIDE, HOMEHUB_QUICK_START]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out_dir = Path(argv[0]) if argv else HERE / "docs"
    for doc in DOCS:
        path = build(doc, out_dir)
        print(f"wrote {path} ({len(doc.pages)} pages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
