"""Which service hosts which VSS writer (``shared/catalog.md``, "Writer to service").

Matched by writer id first: ids are the same in every language and Windows version. The English name is
only a fallback for a writer whose id is not in the table. A writer in neither is reported, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

# writer id (lower case, braces) -> (the writer's usual name, its service)
WRITER_SERVICES: dict[str, tuple[str, str]] = {
    "{e8132975-6f93-4464-a53e-1050253ae220}": ("System Writer", "CryptSvc"),
    "{be000cbe-11fe-4426-9c58-531aa6355fc4}": ("ASR Writer", "VSS"),
    "{542da469-d3e1-473c-9f4f-7847f01fc64f}": ("COM+ REGDB Writer", "VSS"),
    "{afbab4a2-367d-4d15-a586-71dbb18f8485}": ("Registry Writer", "VSS"),
    "{4dc3bdd4-ab48-4d07-adb0-3bee2926fd7f}": ("Shadow Copy Optimization Writer", "VSS"),
    "{4969d978-be47-48b0-b100-f328f07ac1e0}": ("BITS Writer", "BITS"),
    "{a6ad56c2-b509-4e6c-bb19-49d8f43532f0}": ("WMI Writer", "Winmgmt"),
    "{a65faa63-5ea8-4ebc-9dbd-a0c4db26912a}": ("SqlServerWriter", "SQLWriter"),
    "{2a40fd15-dfca-4aa8-a654-1f8c654603f6}": ("IIS Config Writer", "AppHostSvc"),
    "{59b1f0cf-90ef-465f-9609-6ca8b2938366}": ("IIS Metabase Writer", "IISADMIN"),
    "{b2014c9e-8711-4c5c-a5a9-3cf384484757}": ("NTDS", "NTDS"),
    "{2707761b-2324-473d-88eb-eb007a359533}": ("DFS Replication service writer", "DFSR"),
    "{be9ac81e-3619-421f-920f-4c6fea9e93ad}": ("Dhcp Jet Writer", "DHCPServer"),
    "{d76f5a28-3092-4589-ba48-2958fb88ce29}": ("FRS Writer", "NtFrs"),
    "{12ce4370-5bb7-4c58-a76a-e5d5097e3674}": ("FSRM Writer", "srmsvc"),
    # The Exchange Writer and the Exchange Replica Writer share this id; the name tells them apart.
    "{76fe1ac4-15f7-4bcd-987e-8e1acb462fb7}": ("Microsoft Exchange Writer", "MSExchangeIS"),
    "{66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}": ("Microsoft Hyper-V VSS Writer", "vmms"),
    "{cd3f2362-8bef-46c7-9181-d62844cdc0b2}": ("MSSearch Service Writer", "WSearch"),
    "{35e81631-13e1-48db-97fc-d5bc721bb18a}": ("NPS VSS Writer", "EventSystem"),
    "{5382579c-98df-47a7-ac6c-98a6d7106e09}": ("TermServLicensing", "TermServLicensing"),
    "{82cb5521-68db-4626-83a4-7fc6f88853e9}": ("WDS VSS Writer", "WDSServer"),
    "{8d5194e1-e455-434a-b2e5-51296cce67df}": ("WIDWriter", "WIDWriter"),
    "{f08c1483-8407-4a26-8c26-6c267a629741}": ("WINS Jet Writer", "WINS"),
    "{6f5b15b5-da24-4d88-b737-63063e3a1f86}": ("Certificate Authority", "CertSvc"),
}

# English name (lower case) -> service, for writers whose id is not in the table.
NAME_SERVICES: dict[str, str] = {name.lower(): service for name, service in WRITER_SERVICES.values()}
NAME_SERVICES["microsoft exchange replica writer"] = "MSExchangeRepl"

# Restarting these interrupts a workload: the plan names them explicitly.
WORKLOAD_SERVICES: dict[str, str] = {
    "NTDS": "Active Directory Domain Services (domain controller)",
    "MSExchangeIS": "Exchange mailbox databases",
    "MSExchangeRepl": "Exchange database replication",
    "SQLWriter": "SQL Server backups that use VSS",
    "vmms": "Hyper-V management of every virtual machine on this host",
}

# Restart order: everything else first, VSS itself last.
LAST = "VSS"


@dataclass(frozen=True)
class ServiceMatch:
    service: str
    by: str  # "id" or "name"


def service_for(writer_id: str, name: str) -> ServiceMatch | None:
    """The service that hosts a writer: by id, then by English name; None when unknown."""
    lowered = name.strip().lower()
    if lowered == "microsoft exchange replica writer":
        return ServiceMatch("MSExchangeRepl", "name")
    known = WRITER_SERVICES.get(writer_id.lower())
    if known:
        return ServiceMatch(known[1], "id")
    service = NAME_SERVICES.get(lowered)
    return ServiceMatch(service, "name") if service else None


def candidate_services() -> list[str]:
    """Every service the table knows, for the check to read."""
    return sorted({s for _, s in WRITER_SERVICES.values()} | set(NAME_SERVICES.values()), key=str.lower)
