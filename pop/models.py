"""The warehouse's tables (SQLAlchemy 2). Alembic migrations in sql/migrations create and upgrade them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# --- dimensions (filled from schemas/vocab and the country table by tasks.dimensions) -------------------------


class DimCountry(Base):
    __tablename__ = "dim_country"
    iso3: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    m49_code: Mapped[str | None] = mapped_column(String(3))
    region: Mapped[str | None] = mapped_column(String(40))
    sub_region: Mapped[str | None] = mapped_column(String(60))


class DimCompany(Base):
    __tablename__ = "dim_company"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))


class DimPlatform(Base):
    __tablename__ = "dim_platform"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))
    company_code: Mapped[str | None] = mapped_column(ForeignKey("dim_company.code"))


class DimAlias(Base):
    """Every spelling senders use for a company or platform, and what it stands for."""

    __tablename__ = "dim_alias"
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # company | platform
    alias: Mapped[str] = mapped_column(String(120), primary_key=True)  # normalised spelling
    code: Mapped[str] = mapped_column(String(40))


class DimHarmType(Base):
    __tablename__ = "dim_harm_type"
    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))
    parent: Mapped[str | None] = mapped_column(String(60))
    online_related: Mapped[bool] = mapped_column(Boolean)


class DimChannel(Base):
    __tablename__ = "dim_channel"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))
    online: Mapped[bool] = mapped_column(Boolean)


class DimAudience(Base):
    __tablename__ = "dim_audience"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))


class DimAgeBand(Base):
    __tablename__ = "dim_age_band"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    label: Mapped[str] = mapped_column(String(60))
    age_min: Mapped[int | None] = mapped_column(Integer)
    age_max: Mapped[int | None] = mapped_column(Integer)


class DimPeriod(Base):
    """Reporting periods by their canonical label (2023, 2023-H1, 2023-Q2, 2023-05), filled as batches load."""

    __tablename__ = "dim_period"
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    granularity: Mapped[str] = mapped_column(String(10))


class DimSourceAgeBand(Base):
    """Age bands as sources report them (canonical text), with their ages and the POP band that holds them."""

    __tablename__ = "dim_source_age_band"
    age_band: Mapped[str] = mapped_column(String(20), primary_key=True)
    age_min: Mapped[int | None] = mapped_column(Integer)
    age_max: Mapped[int | None] = mapped_column(Integer)
    pop_age_band: Mapped[str] = mapped_column(String(20))


# --- sources, runs, batches, quarantine --------------------------------------------------------------------


class SourceRecord(Base):
    """The registry entry of a source as it stood at its latest run."""

    __tablename__ = "sources"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    stakeholder_group: Mapped[str] = mapped_column(String(40))
    organisation: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(10))
    licence: Mapped[str] = mapped_column(String(200))
    consent: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(String(200))
    update_frequency: Mapped[str] = mapped_column(String(20))


class IngestRun(Base):
    __tablename__ = "ingest_runs"
    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_run_name: Mapped[str | None] = mapped_column(String(120))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20))
    message: Mapped[str | None] = mapped_column(Text)
    summary_json: Mapped[str | None] = mapped_column(Text)


class Batch(Base):
    """One file of one source, as received: the unit that loads all or nothing."""

    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("source_id", "sha256", "original_name", name="uq_batches_file"),)
    batch_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("ingest_runs.run_id"))
    original_name: Mapped[str] = mapped_column(String(400))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    landed_path: Mapped[str] = mapped_column(String(600))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))  # processing | loaded | failed | duplicate
    rows_in: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_loaded: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("batches.batch_id"))
    failures_json: Mapped[str | None] = mapped_column(Text)
    # steward review: only approved batches feed snapshots and releases
    review_status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    corrects_batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.batch_id"))


class QuarantineRow(Base):
    """A row that did not pass, with the values as sent and every reason."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("batch_id", "row_number", name="uq_quarantine_row"),)
    quarantine_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.batch_id"), index=True)
    source_id: Mapped[str] = mapped_column(String(80))
    row_number: Mapped[int] = mapped_column(BigInteger)
    fields: Mapped[str] = mapped_column(Text)  # comma-separated field names that failed
    reasons_json: Mapped[str] = mapped_column(Text)
    original_json: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | resolved | resubmitted | dismissed
    resolved_by_batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.batch_id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    corrects_quarantine_id: Mapped[int | None] = mapped_column(ForeignKey("quarantine.quarantine_id"))


class StewardAction(Base):
    """The audit trail: every steward action (and every automatic one), who, when, what and why."""

    __tablename__ = "steward_actions"
    action_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.batch_id"), index=True)
    quarantine_id: Mapped[int | None] = mapped_column(ForeignKey("quarantine.quarantine_id"))
    reason: Mapped[str | None] = mapped_column(Text)
    details_json: Mapped[str | None] = mapped_column(Text)


class ErratumApplication(Base):
    """Which declared erratum (config/errata.yaml) touched which row, and how."""

    __tablename__ = "errata_applications"
    erratum_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.batch_id"), primary_key=True)
    row_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    action: Mapped[str] = mapped_column(String(20))  # drop | override | flag


class QualityResult(Base):
    """One expectation's outcome in one warehouse check (Great Expectations checkpoint)."""

    __tablename__ = "quality_results"
    result_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    suite: Mapped[str] = mapped_column(String(120))
    expectation: Mapped[str] = mapped_column(String(120))
    column: Mapped[str | None] = mapped_column(String(120))
    success: Mapped[bool] = mapped_column(Boolean)
    details_json: Mapped[str | None] = mapped_column(Text)


class ConsistencyFinding(Base):
    """A discrepancy only a multi-source warehouse can see: a finding for stewards to review, not a load failure."""

    __tablename__ = "consistency_findings"
    __table_args__ = (UniqueConstraint("check_id", "subject", name="uq_consistency_findings_subject"),)
    finding_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    check_id: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(400))  # what the numbers are about, e.g. "x_corp 2023"
    details_json: Mapped[str] = mapped_column(Text)  # the numbers side by side
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | reviewed | resolved
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    run_id: Mapped[str | None] = mapped_column(String(64))


# --- facts: one table per stakeholder group; (batch_id, row_number) says where each row came from ------------


class _FactRow:
    # no foreign key to batches: PostgreSQL checks one per row with a trigger, which triples bulk-load time;
    # every fact row is written in its batch's own transaction, and the steward checks reconcile the two
    batch_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    row_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class _Period:
    """The canonical period label; its dates are in dim_period (kept narrow: fact rows load by the million)."""

    period: Mapped[str] = mapped_column(String(10))


class FactHelplineContacts(_FactRow, _Period, Base):
    __tablename__ = "fact_helpline_contacts"
    record_id: Mapped[str | None] = mapped_column(String(80))
    country_iso3: Mapped[str] = mapped_column(String(3))
    contact_type: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(60))
    age_band: Mapped[str] = mapped_column(String(20))  # see dim_source_age_band
    gender: Mapped[str] = mapped_column(String(20))
    platform_code: Mapped[str | None] = mapped_column(String(40))  # where the harm happened, if recorded
    platform_reported: Mapped[str | None] = mapped_column(String(200))
    contacts: Mapped[int] = mapped_column(BigInteger)
    value_quality: Mapped[str] = mapped_column(String(20))


class FactYouthResponses(_FactRow, _Period, Base):
    __tablename__ = "fact_youth_responses"
    survey_id: Mapped[str] = mapped_column(String(80))
    response_id: Mapped[str] = mapped_column(String(80))
    country_iso3: Mapped[str] = mapped_column(String(3))
    age: Mapped[int] = mapped_column(Integer)
    gender: Mapped[str] = mapped_column(String(20))
    felt_unsafe_context: Mapped[str] = mapped_column(String(20))
    sought_help: Mapped[bool | None] = mapped_column(Boolean)
    used_online_help: Mapped[bool] = mapped_column(Boolean)
    help_outcome: Mapped[str | None] = mapped_column(String(20))
    weight: Mapped[float] = mapped_column(Float)


class FactServiceProviderReports(_FactRow, _Period, Base):
    __tablename__ = "fact_service_provider_reports"
    record_id: Mapped[str | None] = mapped_column(String(80))
    org_name: Mapped[str] = mapped_column(String(200))
    org_type: Mapped[str] = mapped_column(String(40))
    country_iso3: Mapped[str] = mapped_column(String(3))
    contacts_total: Mapped[int] = mapped_column(BigInteger)
    contacts_online: Mapped[int | None] = mapped_column(BigInteger)
    referrals_in: Mapped[int | None] = mapped_column(BigInteger)
    referrals_out: Mapped[int | None] = mapped_column(BigInteger)
    age_served_min: Mapped[int | None] = mapped_column(Integer)
    age_served_max: Mapped[int | None] = mapped_column(Integer)
    challenges: Mapped[str | None] = mapped_column(Text)
    good_practice: Mapped[str | None] = mapped_column(Text)
    value_quality: Mapped[str] = mapped_column(String(20))


class FactTechMetrics(_FactRow, _Period, Base):
    __tablename__ = "fact_tech_metrics"
    company_code: Mapped[str] = mapped_column(String(40))
    company_reported: Mapped[str] = mapped_column(String(200))
    product_code: Mapped[str] = mapped_column(String(40))
    product_reported: Mapped[str] = mapped_column(String(200))
    reporter: Mapped[str] = mapped_column(String(20))
    metric: Mapped[str] = mapped_column(String(40))
    policy_area: Mapped[str] = mapped_column(String(200))
    dsa_category: Mapped[str | None] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(20))
    value: Mapped[float] = mapped_column(Float)
    country_iso3: Mapped[str] = mapped_column(String(3))
    is_total_row: Mapped[bool] = mapped_column(Boolean)
    value_quality: Mapped[str] = mapped_column(String(20))


class FactProtectionSubmissions(_FactRow, Base):
    __tablename__ = "fact_protection_submissions"
    submission_id: Mapped[str] = mapped_column(String(80))
    submitter_org: Mapped[str] = mapped_column(String(200))
    org_type: Mapped[str] = mapped_column(String(40))
    evidence_type: Mapped[str] = mapped_column(String(40))
    intervention_type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    consent: Mapped[bool] = mapped_column(Boolean)
    licence: Mapped[str | None] = mapped_column(String(200))
    link: Mapped[str | None] = mapped_column(Text)
    submitted_on: Mapped[dt.date | None] = mapped_column(Date)


class FactChoice(Base):
    """Multi-select answers of any fact row (tools used, platforms named, countries covered, audiences, ...)."""

    __tablename__ = "fact_choices"
    __table_args__ = (Index("ix_fact_choices_field_code", "field", "code"),)
    batch_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    row_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    field: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(60), primary_key=True)


FACT_TABLES = {
    cls.__tablename__: cls.__table__
    for cls in (
        FactHelplineContacts,
        FactYouthResponses,
        FactServiceProviderReports,
        FactTechMetrics,
        FactProtectionSubmissions,
    )
}
