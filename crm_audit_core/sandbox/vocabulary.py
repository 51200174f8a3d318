"""The vocabularies a generated tenant draws from: integrations, lifecycle stages, lead
statuses, segments, pipelines, products, lost reasons, activity subjects, currencies.

Plain constants, shared by base generation (``people``, ``work``, ``integrations``),
the defect planters and finalisation; nothing here draws random numbers.
"""

from __future__ import annotations

# name, kind, created (days before as_of), share of integration-sourced contacts/companies/deals
INTEGRATIONS = (
    ("Mailchimp", "marketing", 1100, 0.35, 0.0, 0.0),
    ("Zapier", "automation", 900, 0.20, 0.4, 0.5),
    ("Typeform", "forms", 700, 0.20, 0.0, 0.0),
    ("LinkedIn Lead Gen", "lead-sync", 520, 0.25, 0.0, 0.0),
    ("Accounting Sync", "accounting", 1300, 0.0, 0.6, 0.5),
    ("Outlook Calendar Sync", "calendar", 420, 0.0, 0.0, 0.0),
)
INTEGRATION_USERS = (("Zapier Integration", "zapier"), ("Accounting Sync API", "accounting-sync"))

LIFECYCLE_STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist")
LIFECYCLE_WEIGHTS = (0.12, 0.28, 0.15, 0.12, 0.1, 0.2, 0.03)
LEAD_STATUSES = ("New", "Open", "In Progress", "Attempted to Contact", "Connected", "Qualified", "Unqualified")
LEAD_WEIGHTS = (0.15, 0.2, 0.2, 0.15, 0.1, 0.12, 0.08)
SEGMENTS = (
    "Newsletter", "Customers", "Enterprise", "SMB", "Jakarta Expo 2025", "Seoul Tech Summit",
    "Webinar Attendees", "Partners", "VIP", "Indonesia Market", "Korea Market", "APAC Prospects",
)
PIPELINES = {
    "Sales Pipeline": ("Qualification", "Needs Analysis", "Proposal Sent", "Negotiation", "Closed Won", "Closed Lost"),
    "Partnerships": ("Discovery", "Contract Review", "Closed Won", "Closed Lost"),
}
PRODUCTS = (
    "CRM Licenses", "Annual Subscription", "Implementation", "Support Renewal", "Training Package",
    "Hardware Bundle", "Consulting Retainer", "Data Migration", "Premium Upgrade", "Pilot Project",
    "Multi-year Renewal", "Integration Add-on",
)
LOST_REASONS = (
    "Price too high", "Chose a competitor", "No budget", "Bad timing", "No decision",
    "Harga terlalu mahal", "Memilih kompetitor", "경쟁사 선택", "예산 부족",
)
SUBJECTS = {
    "call": ("Follow-up call", "Discovery call", "Panggilan tindak lanjut", "후속 통화", "Pricing call"),
    "email": ("Sent proposal", "Re: quotation", "Kirim penawaran harga", "제안서 발송", "Intro email"),
    "meeting": ("Product demo", "Quarterly review", "Rapat demo produk", "미팅: 제품 데모", "Contract meeting"),
    "sms": ("SMS reminder", "WhatsApp follow-up", "문자 안내", "Konfirmasi jadwal"),
    "note": ("Note: budget confirmed", "Catatan kunjungan", "메모: 담당자 변경", "Note: decision in Q3"),
    "task": ("Prepare contract", "Send invoice", "Siapkan penawaran", "견적서 준비", "Call back next week"),
}
ACTIVITY_TYPES_ORDER = ("call", "email", "meeting", "sms", "note", "task")
CURRENCY_RANGE = {  # median, rounding
    "IDR": (250_000_000, 1_000_000), "KRW": (30_000_000, 100_000), "USD": (18_000, 100),
    "GBP": (14_000, 100), "AUD": (25_000, 100), "SGD": (24_000, 100), "EUR": (16_000, 100),
}
STANDARD_FIELD_TYPES = {"str": "string", "int": "number", "float": "number", "bool": "boolean",
                        "timestamp": "datetime", "list": "enumeration", "json": "json"}
