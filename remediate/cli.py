"""The ``remediate`` command line. Imports stay lazy so that ``remediate --help`` starts fast."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any

# The commands, with the line each gets in `remediate --help` and in its own parser.
COMMANDS = (
    ("run", "[run] SLUG...", "run remediations on hosts: check, plan, apply, verify (the default)"),
    ("list", "list", "every remediation: slug, OS, risk, the error codes it answers"),
    ("show", "show SLUG", "one remediation: error rows, parameters, risk, an example"),
    ("diagnose", "diagnose TEXT|-", "from the portal's error text or code to the remediations to run"),
    ("inventory", "inventory -i FILE", "the hosts an inventory resolves to (--list: as ansible-inventory)"),
    ("undo", "undo RUN_ID", "restore what a run changed, where that is possible"),
    ("ping", "ping", "is each host reachable, and what is it (read-only)"),
    ("lab", "lab up|down|show|break|...", "simulated Windows and Linux VMs on 127.0.0.1 to try it on"),
    ("azure", "azure failed-backups", "a vault's failed backup jobs: diagnosed, fixed, backed up again"),
    ("automation", "automation package DIR", "Azure Automation: the wheels and runbooks to upload to an account"),
    ("completion", "completion bash|zsh", "a shell completion script (slugs, commands, options)"),
)
VERBS = tuple(name for name, _, _ in COMMANDS)
VERB_HELP = {name: line for name, _, line in COMMANDS}

EXIT_OK = 0
EXIT_ERROR = 1  # usage, configuration or inventory error: nothing ran
EXIT_FAILED = 2  # at least one host failed
EXIT_UNREACHABLE = 4  # at least one host unreachable (added to 2 when both)
EXIT_PENDING = 8  # --dry-run --detailed-exitcode: changes are pending (added to the others)
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141  # the output's reader went away (128 + SIGPIPE, as a shell reports it)

DESCRIPTION = (
    "Fix the in-guest causes of failed Azure VM backups, on one VM or a fleet.\n\n"
    "commands (`remediate COMMAND --help` for each):\n"
    + "".join(f"  {usage:<28}{line}\n" for _, usage, line in COMMANDS)
)
EPILOG = """\
examples:
  remediate --host vm1 --user admin vss-writers --dry-run
  remediate -i inventory.yml --limit 'sql*:!sql03' vss-writers vss-copy-backup --yes
  remediate --host vm1 --for "VSS writers in bad state"        # what diagnose names, in order
  remediate diagnose "ExtensionSnapshotFailedCOM"
  remediate list | remediate show strong-crypto | remediate undo RUN_ID
  remediate lab up --detach && remediate -i inventory/lab.yml vss-writers --yes

statuses: ok (compliant, nothing to do), changed (applied and verified), pending (--dry-run: changes planned),
  failed, unreachable, skipped (nothing for this host's OS, or held back: needs --yes)

exit codes:
  0  every host ok, changed, pending or skipped
  1  usage, configuration or inventory error (nothing ran)
  2  at least one host failed           4  at least one host unreachable (6: both)
  8  with --dry-run --detailed-exitcode: changes are pending (added to the above)
  130 interrupted                       141 the output's reader went away (a pipe closed early)

credentials come only from the environment (--password-env NAME, REMEDIATE_PASSWORD), a file named in the
inventory (password_file), key files, or a prompt (--ask-pass); never from the command line.
"""
JOURNAL_DIR_HELP = (
    "where run journals go (default: $REMEDIATE_JOURNAL_DIR, else $XDG_STATE_HOME/remediate/runs, "
    "else ~/.local/state/remediate/runs)"
)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; every option's help ends with its default, where it has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or "(default" in text or default in (None, False, [], argparse.SUPPRESS):
            return text
        if not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line and exit code 1: argparse's 2 is, in the README's table, "a host failed"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _count(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    return parse


def _seconds(*, zero: bool = False) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
        if not 0 <= value < float("inf") or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"must be {'0 or more' if zero else 'more than 0'} seconds, not {text}")
        return value

    return parse


def _port(text: str) -> int:
    value = _count(1)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, not {value}")
    return value


def _run_parser() -> argparse.ArgumentParser:
    from remediate import __version__

    p = _Parser(
        prog="remediate",
        usage="remediate [run] SLUG... [options]\n       remediate COMMAND ... (commands below)",
        description=DESCRIPTION,
        epilog=EPILOG,
    )
    p.add_argument("remediations", nargs="*", metavar="SLUG", help="remediations to run (see `remediate list`)")
    p.add_argument("--version", action="version", version=f"remediate {__version__}", help="print the version")
    _target_args(p)
    g = p.add_argument_group("what to do")
    g.add_argument("--dry-run", "--check", action="store_true", help="check and plan only; nothing is changed")
    g.add_argument("--detailed-exitcode", action="store_true", help="with --dry-run: add 8 when changes are pending")
    g.add_argument("-y", "--yes", action="store_true", help="apply disruptive and destructive remediations")
    g.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a remediation parameter")
    g.add_argument("--params-file", metavar="FILE", help="remediation parameters from a YAML or JSON file")
    g.add_argument("--for", dest="for_text", metavar="TEXT", help="run what `diagnose TEXT` names, in order")
    g.add_argument("--error-code", metavar="CODE", help="run what the error code's row names, in order")
    g.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="continue a killed or interrupted run: its remediations and options, on its hosts that have no result",
    )
    _run_args(p)
    _output_args(p)
    return p


def _target_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("hosts")
    g.add_argument("--host", action="append", default=[], metavar="NAME[:PORT]", help="an ad hoc host (repeatable)")
    g.add_argument("-i", "--inventory", action="append", default=[], metavar="FILE", help="inventory file(s)")
    g.add_argument("-l", "--limit", metavar="PATTERN", help="host/group/glob patterns, ':' or ',' separated, !exclude")
    g.add_argument("--os", choices=["windows", "linux"], help="OS of --host hosts (default: the remediation's)")
    g.add_argument("--shard", metavar="K/N", help="only the K-th of N disjoint parts of the hosts (split by name)")
    c = p.add_argument_group("connection")
    c.add_argument("--user", "-u", help="remote user (default: the inventory's, else $REMEDIATE_USER)")
    c.add_argument("--password-env", metavar="NAME", help="environment variable holding the password")
    c.add_argument("--ask-pass", action="store_true", help="prompt for the password")
    c.add_argument("--ssh-key", metavar="FILE", help="SSH private key file")
    c.add_argument("--become", action="store_true", default=None, help="run Linux scripts with sudo -n")
    c.add_argument("--port", type=_port, help="port for --host hosts (default: 5986 WinRM HTTPS, 22 SSH)")
    c.add_argument(
        "--winrm-transport",
        choices=["ntlm", "kerberos", "credssp", "basic", "certificate"],
        help="WinRM authentication for --host hosts (default: ntlm)",
    )
    c.add_argument("--winrm-scheme", choices=["https", "http"], help="WinRM scheme for --host hosts (default: https)")
    c.add_argument("--ca-bundle", metavar="FILE", help="CA bundle that validates WinRM HTTPS certificates")
    c.add_argument(
        "--insecure-skip-tls-verify",
        action="store_true",
        help="DANGEROUS: do not validate WinRM HTTPS certificates (logged loudly)",
    )
    c.add_argument("--known-hosts", metavar="FILE", help="SSH known_hosts file (default: ~/.ssh/known_hosts)")
    c.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="accept and save SSH keys of hosts never seen before (a changed key is always refused)",
    )
    c.add_argument("--connect-timeout", type=_seconds(), default=15.0, metavar="S", help="time to open a connection")
    c.add_argument(
        "--command-timeout", type=_seconds(), default=600.0, metavar="S", help="time limit of one remote operation"
    )


def _run_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("runner")
    g.add_argument("-f", "--forks", type=_count(1), default=10, metavar="N", help="hosts in parallel")
    g.add_argument(
        "--host-timeout", type=_seconds(), default=1800.0, metavar="S", help="time limit per host, all steps included"
    )
    g.add_argument(
        "--retries", type=_count(1), default=3, metavar="N", help="attempts for transient transport failures"
    )
    g.add_argument(
        "--retry-wait", type=_seconds(zero=True), default=0.5, metavar="S", help="first backoff wait (doubles)"
    )
    g.add_argument("--journal-dir", metavar="DIR", help=JOURNAL_DIR_HELP)


def _output_args(p: argparse.ArgumentParser, *, progress: bool = True) -> None:
    """The output options; ``progress``: also --no-progress and -v (for the commands with a progress bar and the
    table of hosts)."""
    g = p.add_argument_group("output")
    g.add_argument("-o", "--output", choices=["text", "json"], default="text", help="a table, or JSON")
    g.add_argument("--output-file", metavar="FILE", help="also write the full JSON results to FILE")
    g.add_argument("--log-file", metavar="FILE", help="JSON-lines log of every event (secrets redacted)")
    g.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"], help="console log level"
    )
    if progress:
        g.add_argument("--no-progress", action="store_true", help="no progress bar")
        g.add_argument("-v", "--verbose", action="store_true", help="do not shorten reasons")


def _format_arg(p: argparse.ArgumentParser, what: str = "results") -> None:
    p.add_argument("-o", "--output", choices=["text", "json"], default="text", help=f"{what} as text or JSON")


def _verb(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    line = kwargs.pop("line", None) or VERB_HELP.get(name, "")
    return sub.add_parser(name, help=line, description=kwargs.pop("description", line), **kwargs)


class _Unused:
    """Stands for the parser of a verb that this command line does not name: whatever is added to it is dropped
    (argparse's help strings cost a gettext lookup each, and ``remediate list`` is meant to start at once)."""

    def __getattr__(self, name: str) -> Any:
        return self._drop

    def _drop(self, *args: Any, **kwargs: Any) -> _Unused:
        return self


class _OnlyVerb:
    """The verbs' subparsers, where only ``verb`` gets a real parser."""

    def __init__(self, sub: Any, verb: str) -> None:
        self._sub, self._verb = sub, verb

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        return self._sub.add_parser(name, **kwargs) if name == self._verb else _Unused()


def _verb_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every verb's parser; with ``only``, that verb's alone (the others are not built)."""
    p = _Parser(prog="remediate")
    sub: Any = p.add_subparsers(dest="verb", required=True, metavar="COMMAND", title="commands")
    if only is not None:
        sub = _OnlyVerb(sub, only)
    s = _verb(sub, "list")
    _format_arg(s, "the table")
    s = _verb(sub, "show")
    s.add_argument("slug", metavar="SLUG", help="a remediation (see `remediate list`)")
    _format_arg(s, "the description")
    s = _verb(sub, "diagnose")
    s.add_argument(
        "text", nargs="*", metavar="TEXT", help="the portal's error text or code; - reads it from standard input"
    )
    s.add_argument("--file", metavar="FILE", help="read the error text from FILE (a job's error details, a log)")
    s.add_argument("--codes", action="store_true", help="list every error code and term known, with its source")
    _format_arg(s, "the matching rows")
    s = _verb(sub, "inventory")
    s.add_argument("-i", "--inventory", action="append", required=True, metavar="FILE", help="inventory file(s)")
    s.add_argument("--list", action="store_true", help="in the shape of ansible-inventory --list")
    s.add_argument("-l", "--limit", metavar="PATTERN", help="host/group/glob patterns, ':' or ',' separated, !exclude")
    _format_arg(s, "the hosts")
    s = _verb(sub, "undo")
    s.add_argument("run_id", metavar="RUN_ID", help="the run id the run printed (its journal's name)")
    _target_args(s)
    s.add_argument("--dry-run", action="store_true", help="show what would be restored; change nothing")
    s.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    _run_args(s)
    _output_args(s)
    s = _verb(
        sub,
        "ping",
        description=VERB_HELP["ping"] + ". Each host ends ok with 'reachable: ' and its name, OS version and "
        "console code page, or unreachable with the reason.",
    )
    s.set_defaults(dry_run=True)
    _target_args(s)
    _run_args(s)
    _output_args(s)
    s = _verb(sub, "completion")
    s.add_argument("shell", choices=["bash", "zsh"], help="the shell")
    lab = _verb(sub, "lab")
    lsub = lab.add_subparsers(dest="lab_verb", required=True, metavar="COMMAND", title="commands")
    dir_help = "the lab's directory (state, keys, CA, log)"
    up = _verb(lsub, "up", line="create and start lab hosts, write an inventory for them")
    up.add_argument("--windows", type=_count(0), default=2, metavar="N", help="Windows hosts to create")
    up.add_argument("--linux", type=_count(0), default=1, metavar="N", help="Linux hosts to create")
    up.add_argument(
        "--windows-machine",
        default="windows-vss-writers-failed",
        metavar="NAME",
        help="ready-made machine of the Windows hosts (see `remediate lab machines`)",
    )
    up.add_argument(
        "--linux-machine", default="linux-fs-unclean", metavar="NAME", help="ready-made machine of the Linux hosts"
    )
    up.add_argument(
        "--language",
        action="append",
        metavar="LANG",
        help="Windows display languages, cycled over the hosts (en-US, ja-JP, de-DE, fr-FR; "
        "default: the machine's, then ja-JP)",
    )
    up.add_argument("--dir", default=".lab", help=dir_help)
    up.add_argument(
        "--inventory", default=os.path.join("inventory", "lab.yml"), metavar="PATH", help="the inventory to write"
    )
    up.add_argument("--detach", action="store_true", help="serve in the background; stop with `remediate lab down`")
    up.add_argument("--azure", action="store_true", help="also serve an ARM endpoint whose VMs are the hosts")
    s = lsub.add_parser("serve")  # what `lab up --detach` starts: not listed
    s.add_argument("--dir", default=".lab")
    s.add_argument("--inventory", default=os.path.join("inventory", "lab.yml"))
    s = _verb(lsub, "down", line="stop a detached lab")
    s.add_argument("--dir", default=".lab", help=dir_help)
    s = _verb(lsub, "show", line="a lab host's state, summarised (--output yaml|json: the whole state file)")
    s.add_argument("host", metavar="HOST", help="a lab host (win01, lin01, ...)")
    s.add_argument("--dir", default=".lab", help=dir_help)
    s.add_argument("-o", "--output", choices=["text", "yaml", "json"], default="text", help="summary or raw state")
    s = _verb(lsub, "break", line="give a lab host exactly a ready-made machine's state (see `lab machines`)")
    s.add_argument("host", metavar="HOST", help="a lab host")
    s.add_argument("machine", metavar="MACHINE", help="a ready-made machine (see `remediate lab machines`)")
    s.add_argument("--dir", default=".lab", help=dir_help)
    _verb(lsub, "machines", line="list the ready-made machines, one per error row")
    s = _verb(lsub, "log", line="the operations the lab executed, read-only or mutating")
    s.add_argument("--dir", default=".lab", help=dir_help)
    s.add_argument("--host", metavar="HOST", help="only this lab host's operations")
    s.add_argument("-o", "--output", choices=["text", "json"], default="text", help="a table, or JSON lines")
    auto = _verb(sub, "automation")
    asub = auto.add_subparsers(dest="automation_verb", required=True, metavar="COMMAND", title="commands")
    s = _verb(asub, "package", line="wheels of remediate and every dependency for Python 3.10, and the runbooks")
    s.add_argument("dir", metavar="DIR", help="the folder to write them to")
    s.add_argument("--extra", action="append", metavar="NAME", help="extras to include (default: azure, automation)")
    s.add_argument("--python-version", default="3.10", help="the Automation runtime's Python (default: 3.10)")
    s.add_argument("--platform", action="append", metavar="TAG", help="wheel platform (default: manylinux2014_x86_64)")
    return p


def _first_positional(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    takes_value = {
        opt for action in parser._actions for opt in action.option_strings if action.nargs != 0 and opt.startswith("-")
    }
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if token == "--":
            return None
        if token.startswith("-"):
            if token in takes_value:
                skip = True
            continue
        return token
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    run_parser = _run_parser()
    first = _first_positional(run_parser, argv)
    try:
        if first == "azure":  # the Azure verbs have their own parser (remediate/azurecli.py)
            from remediate import azurecli

            argv.remove("azure")
            _collect_again()
            return azurecli.main(argv)
        if first in VERBS and first != "run":
            i = argv.index(first)
            args = _verb_parser(first).parse_args([first, *argv[:i], *argv[i + 1 :]])
            return _dispatch_verb(args)
        if first == "run":
            argv.remove("run")
        args = run_parser.parse_args(argv)
        return _cmd_run(args, run_parser)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _ErrorExit as exc:
        return exc.code
    except BrokenPipeError:  # `remediate diagnose --codes | head`: the reader went away; no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the flush at exit does not fail again
        return EXIT_PIPE
    except Exception as exc:
        from remediate.errors import RemediateError

        if isinstance(exc, RemediateError):
            print(f"remediate: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        raise


class _ErrorExit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _dispatch_verb(args: argparse.Namespace) -> int:
    _collect_again()  # (only a run holds the collector back until its transports are imported)
    handler = {
        "list": _cmd_list,
        "show": _cmd_show,
        "diagnose": _cmd_diagnose,
        "inventory": _cmd_inventory,
        "undo": _cmd_undo,
        "ping": _cmd_ping,
        "lab": _cmd_lab,
        "completion": _cmd_completion,
        "automation": _cmd_automation,
    }[args.verb]
    return handler(args)


# -- run ------------------------------------------------------------------------------------------------------------


def _setup_logging(args: argparse.Namespace) -> None:
    from remediate import log

    log.configure(level=args.log_level, json_file=args.log_file)


def _parse_params(args: argparse.Namespace) -> dict[str, Any]:
    from remediate.errors import ConfigError

    params: dict[str, Any] = {}
    if getattr(args, "params_file", None):
        import yaml

        from remediate.yamlsafe import load

        try:
            with open(args.params_file, encoding="utf-8") as fh:
                loaded = load(fh) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read --params-file {args.params_file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"--params-file {args.params_file}: expected a mapping of parameter: value")
        params.update(loaded)
    for item in getattr(args, "param", []) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--param {item!r}: expected KEY=VALUE", hint="e.g. --param snapshot_without_threads=true"
            )
        params[key.strip()] = value
    return params


def _hosts(args: argparse.Namespace, default_os: str | None) -> list[Any]:
    from remediate.errors import ConfigError

    hosts: list[Any] = []
    if args.inventory:
        from remediate.inventory import load_inventory

        for path in args.inventory:
            inv = load_inventory(path, progress=_progress_line)
            hosts.extend(inv.select(args.limit) if args.limit else inv.hosts)
    if args.host:
        from remediate.inventory import ad_hoc_host

        for name in args.host:
            h = ad_hoc_host(name, os=args.os or default_os)
            if args.port and h.port is None:
                h.port = args.port
            if args.winrm_transport:
                h.vars["winrm_transport"] = args.winrm_transport
            if args.winrm_scheme:
                h.vars["winrm_scheme"] = args.winrm_scheme
            hosts.append(h)
            args.ad_hoc_hosts = [*getattr(args, "ad_hoc_hosts", []), h.name]
    if not hosts:
        raise ConfigError("no hosts: give --host NAME or -i INVENTORY", hint="try the lab: remediate lab up --detach")
    seen: set[str] = set()
    unique = []
    for h in hosts:
        if h.name not in seen:
            seen.add(h.name)
            unique.append(h)
    if getattr(args, "shard", None):
        from remediate.inventory.shard import parse_shard, select_shard

        unique = select_shard(unique, *parse_shard(args.shard))
    return unique


def _options(args: argparse.Namespace, dry_run: bool, params: dict[str, Any] | None = None) -> Any:
    from remediate import playbook
    from remediate.connection import ConnectOptions
    from remediate.retry import RetryPolicy

    password_env = args.password_env
    if getattr(args, "ask_pass", False):
        import getpass

        from remediate.log import register_secret

        secret = getpass.getpass("password: ")
        register_secret(secret)
        os.environ["REMEDIATE_PASSWORD"] = secret
        password_env = "REMEDIATE_PASSWORD"
    if args.insecure_skip_tls_verify:
        print("remediate: WARNING: TLS certificates of WinRM hosts are NOT validated (--insecure-skip-tls-verify)",
              file=sys.stderr)  # fmt: skip
    connect = ConnectOptions(
        connect_timeout=args.connect_timeout,
        command_timeout=args.command_timeout,
        ca_bundle=args.ca_bundle,
        insecure_skip_tls_verify=args.insecure_skip_tls_verify,
        known_hosts=args.known_hosts,
        accept_new_host_keys=args.accept_new_host_keys,
        user=args.user,
        password_env=password_env,
        ssh_key_file=args.ssh_key,
        become=args.become,
    )
    return playbook.RunOptions(
        dry_run=dry_run,
        assume_yes=getattr(args, "yes", False),
        forks=args.forks,
        host_timeout=args.host_timeout,
        retry=RetryPolicy(attempts=max(1, args.retries), initial=args.retry_wait),
        params=params or {},
        journal_dir=args.journal_dir,
        connect=connect,
    )


def _cmd_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from remediate.errors import ConfigError

    _setup_logging(args)
    if args.resume:
        return _cmd_resume(args)
    slugs = list(args.remediations)
    stop_when_healthy = False
    if args.for_text or args.error_code:
        from remediate import diagnose

        text = args.for_text or args.error_code
        named = diagnose.remediations_for(text) or diagnose.azure_remediations_for(text)
        if not named:
            matches = diagnose.diagnose(text)
            if matches:
                row = matches[0].row
                raise ConfigError(
                    f'{text!r} matches "{row.title}", an Azure-side problem: no in-guest fix applies',
                    hint=f"documented action: {row.action}",
                )
            raise ConfigError(f"no catalog row matches {text!r}", hint="see `remediate diagnose` for close rows")
        slugs = slugs + [s for s in named if s not in slugs]
        stop_when_healthy = True
    if not slugs:
        parser.print_usage(sys.stderr)
        print("remediate: error: name at least one remediation (see `remediate list`), or --for TEXT", file=sys.stderr)
        return EXIT_ERROR
    from remediate import playbook

    classes = playbook.resolve(slugs)
    params = _parse_params(args)
    playbook.validate_params(classes, params)
    oses = {c.os for c in classes} - {"any"}
    hosts = _hosts(args, oses.pop() if len(oses) == 1 else None)
    options = _options(args, args.dry_run, params)
    _preflight(args, hosts, options, classes)
    options.stop_when_healthy = stop_when_healthy
    risky = [c for c in classes if c.risk.needs_confirmation]
    if risky and not args.dry_run and not args.yes and sys.stdin.isatty():
        names = ", ".join(f"{c.slug} ({c.risk.value})" for c in risky)
        answer = input(f"{names} may interrupt workloads on {len(hosts)} host(s). Apply? [y/N] ")
        options.assume_yes = answer.strip().lower() in ("y", "yes")
    options.control = playbook.RunControl()
    return _execute(
        args, lambda progress: playbook.run(hosts, classes, _with_progress(options, progress)), len(hosts), options
    )


def _cmd_resume(args: argparse.Namespace) -> int:
    """``--resume RUN_ID``: what to run and how comes from the run's journal; hosts given replace its settings."""
    from remediate import playbook
    from remediate.errors import ConfigError
    from remediate.journal import check_run_id

    check_run_id(args.resume)
    given = [o for o, v in (("SLUG", args.remediations), ("--for", args.for_text), ("--error-code", args.error_code),
                            ("--param", args.param), ("--params-file", args.params_file), ("--dry-run", args.dry_run),
                            ("--yes", args.yes)) if v]  # fmt: skip
    if given:
        raise ConfigError(
            f"--resume runs what the run's journal names, with its parameters and options; drop {', '.join(given)}",
            hint="connection credentials (--password-env, --ask-pass), -i/--host settings and output options apply",
        )
    hosts = _hosts(args, None) if (args.inventory or args.host) else None
    options = _options(args, False)
    options.control = playbook.RunControl()
    total = len(hosts) if hosts else 0
    return _execute(
        args, lambda progress: playbook.resume(args.resume, hosts, _with_progress(options, progress)), total, options
    )


_collection_deferred = False  # run() holds the cyclic garbage collector back while the command starts


def _collect_again() -> None:
    """The libraries are imported (the transports by the pre-flight check): what they built lives as long as
    the process, so it leaves the collector's generations for good (gc.freeze) and the collector runs again."""
    global _collection_deferred
    if _collection_deferred:
        import gc

        gc.freeze()
        gc.enable()
        _collection_deferred = False


def _preflight(args: argparse.Namespace, hosts: list[Any], options: Any, classes: Any = ()) -> None:
    """Addresses, users and credentials of every host, checked before anything runs (a ConfigError: exit 1).
    A run of Azure-side remediations only logs in nowhere: they refuse any connection but azure-arm themselves."""
    from remediate import preflight

    login = not classes or any(not getattr(c, "connection", None) for c in classes)
    preflight.check(hosts, options.connect, ad_hoc=getattr(args, "ad_hoc_hosts", []), login=login)


def _with_progress(options: Any, progress: Any) -> Any:
    control = options.control

    def done(result: Any) -> None:
        if control is None or not control.abandoned.is_set():  # abandoned hosts finishing late stay quiet
            progress(result)

    options.on_host_done = done
    return options


def _say(text: str) -> None:
    """One line on stderr, safe inside a signal handler (no buffered stream that the main thread may hold)."""
    os.write(2, (text + "\n").encode("utf-8", "replace"))


def _sigint_handler(control: Any) -> Any:
    def handler(signum: int, frame: Any) -> None:
        if not control.stopping.is_set():
            control.stop()
            _say(f"\nremediate: interrupted: no new host starts; waiting for the {control.in_flight} host(s) in "
                 "flight to finish (Ctrl-C again abandons them)")  # fmt: skip
        else:
            control.abandon()
            _say(f"\nremediate: abandoning the {control.in_flight} host(s) in flight")

    return handler


def _execute(args: argparse.Namespace, call: Any, total: int, options: Any = None) -> int:
    import signal
    import threading

    _collect_again()  # the transports are imported by now (a run's pre-flight check, or the verb's own imports)

    from remediate.journal import atomic_write
    from remediate.report import Progress, render_json, render_text

    progress = Progress(total, enabled=False if (args.no_progress or args.output == "json") else None)
    control = getattr(options, "control", None)
    if options is not None:
        options.warn = lambda text: _say(f"remediate: warning: {text}")
    previous = None
    if control is not None and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, _sigint_handler(control))
    try:
        report = call(progress)
    finally:
        progress.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if args.output_file:
        try:
            atomic_write(args.output_file, render_json(report))
        except OSError as exc:  # the results are still on stdout and in the journal directory
            _say(f"remediate: error: cannot write --output-file {args.output_file}: {exc.strerror or exc}")
    sys.stdout.write(render_json(report) if args.output == "json" else render_text(report, verbose=args.verbose))
    sys.stdout.flush()
    if getattr(report, "interrupted", False):
        left = f"; {len(report.not_run)} host(s) have no result" if report.not_run else ""
        again = f"`remediate --resume {report.run_id}` runs them, " if report.not_run and report.journal else ""
        undo = f"`remediate undo {report.run_id}` restores what changed" if report.journal else "nothing was changed"
        _say(f"remediate: interrupted, run {report.run_id}{left}: {again}{undo}")
        return EXIT_INTERRUPTED
    counts = report.counts()
    code = EXIT_OK
    if counts["failed"]:
        code |= EXIT_FAILED
    if counts["unreachable"]:
        code |= EXIT_UNREACHABLE
    if report.dry_run and getattr(args, "detailed_exitcode", False) and report.pending:
        code |= EXIT_PENDING
    return code


# -- verbs -------------------------------------------------------------------------------------------------------------


def _cmd_list(args: argparse.Namespace) -> int:
    import json

    from remediate import remediations

    # written from the classes: listing them imports none of them
    rows = [{k: v for k, v in row.items() if k != "module"} for row in remediations.index()]
    if args.output == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    w = max(len(r["slug"]) for r in rows)
    print(f"{'SLUG':<{w}}  {'OS':<7}  {'RISK':<11}  ANSWERS")
    for r in rows:
        codes = ", ".join(a for a in r["answers"] if a.isascii()) or "-"
        print(f"{r['slug']:<{w}}  {r['os']:<7}  {r['risk']:<11}  {codes}")
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    import json

    from remediate import remediations

    cls = remediations.get(args.slug)
    if args.output == "json":
        print(json.dumps(cls.describe(), indent=2, ensure_ascii=False, default=list))
        return EXIT_OK
    from remediate.showdoc import render

    sys.stdout.write(render(cls))
    return EXIT_OK


def _cmd_diagnose(args: argparse.Namespace) -> int:
    import json

    from remediate import diagnose
    from remediate.errors import ConfigError

    if args.codes:
        if args.text or args.file:
            raise ConfigError("diagnose --codes takes no text", step="usage")
        known = diagnose.known_codes()
        if args.output == "json":
            print(json.dumps(known, indent=2, ensure_ascii=False))
        else:
            width = max(len(k["code"]) for k in known)
            for k in known:
                label = k["code"] if k["kind"] == "code" else f'"{k["code"]}"'
                print(f"{label:<{width + 2}}  {k['row']:<36}  {k['source']}")
        return EXIT_OK
    text = _diagnose_text(args)
    matches = diagnose.diagnose(text)
    if args.output == "json":
        print(json.dumps(diagnose.to_json(matches), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(diagnose.render_text(matches, text=text))
    return EXIT_OK if matches else EXIT_FAILED


DIAGNOSE_MAX_BYTES = 1024 * 1024


def _progress_line(message: str) -> None:
    """How far a long load has come, on stderr (stdout keeps the result)."""
    print(message, file=sys.stderr, flush=True)


def _diagnose_text(args: argparse.Namespace) -> str:
    """The text to diagnose: the words given, standard input for ``-``, or ``--file``; never empty."""
    from remediate.errors import ConfigError

    hint = 'remediate diagnose "<error text or code>", or diagnose - (standard input), or diagnose --file FILE'
    if args.file and args.text:
        raise ConfigError("diagnose takes the text or --file, not both", step="usage", hint=hint)
    if args.file:
        try:
            with open(args.file, "rb") as handle:
                data = handle.read(DIAGNOSE_MAX_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read {args.file}: {exc.strerror}", step="usage", hint=hint) from None
        source = args.file
    elif args.text == ["-"]:
        data = sys.stdin.buffer.read(DIAGNOSE_MAX_BYTES + 1)
        source = "standard input"
    else:
        data = " ".join(args.text).encode("utf-8", "surrogateescape")
        source = "the command line"
    if len(data) > DIAGNOSE_MAX_BYTES:
        raise ConfigError(f"the text from {source} is longer than {DIAGNOSE_MAX_BYTES} bytes", step="usage")
    text = data.decode("utf-8", "replace")
    if not text.strip():
        raise ConfigError(f"diagnose needs an error text or code; {source} gave none", step="usage", hint=hint)
    return text


def _cmd_inventory(args: argparse.Namespace) -> int:
    import json

    from remediate.inventory import load_inventory, to_ansible_list

    hosts = []
    merged = None
    for path in args.inventory:
        inv = load_inventory(path, progress=_progress_line)
        merged = inv if merged is None else merged
        hosts.extend(inv.select(args.limit) if args.limit else inv.hosts)
    if args.list or args.output == "json":
        assert merged is not None
        data = to_ansible_list(merged) if len(args.inventory) == 1 and not args.limit else _list_of(hosts)
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)  # streamed: no second copy
        sys.stdout.write("\n")
        return EXIT_OK
    for h in hosts:
        print(f"{h.name}\t{h.target}:{h.port or '-'}\t{h.os or '?'}\t{h.transport}\t{','.join(h.groups)}")
    return EXIT_OK


def _list_of(hosts: list[Any]) -> dict[str, Any]:
    return {"_meta": {"hostvars": {h.name: h.public_vars() for h in hosts}}, "all": {"hosts": [h.name for h in hosts]}}


def _cmd_undo(args: argparse.Namespace) -> int:
    from remediate import playbook
    from remediate.journal import check_run_id

    check_run_id(args.run_id)
    _setup_logging(args)
    hosts = _hosts(args, None) if args.inventory else None
    options = _options(args, args.dry_run)
    if hosts:
        _preflight(args, hosts, options)
    options.assume_yes = args.yes
    only = args.host[0].split(":")[0] if args.host else None
    return _execute(args, lambda progress: playbook.undo(args.run_id, hosts, options, only_host=only), 1, options)


def _cmd_ping(args: argparse.Namespace) -> int:
    from remediate import playbook

    _setup_logging(args)
    hosts = _hosts(args, args.os)
    options = _options(args, True)
    _preflight(args, hosts, options)
    from remediate.ping import Ping

    return _execute(args, lambda progress: playbook.run(hosts, [Ping], _with_progress(options, progress)), len(hosts))


def _cmd_completion(args: argparse.Namespace) -> int:
    from remediate import completion

    sys.stdout.write(completion.script(args.shell, _run_parser(), _verb_parser()))
    return EXIT_OK


def _cmd_lab(args: argparse.Namespace) -> int:
    from remediate import labcli

    return labcli.main(args)


def _cmd_automation(args: argparse.Namespace) -> int:
    from remediate.automation.package import DEFAULT_PLATFORMS, package

    wheels = package(args.dir, extras=args.extra or ["azure", "automation"], python_version=args.python_version,
                     platforms=args.platform or DEFAULT_PLATFORMS)  # fmt: skip
    where = os.path.join(args.dir, "wheels")
    print(f"{len(wheels)} wheels in {where} (listed in packages.txt): import each as a Python {args.python_version} "
          f"package; runbooks in {os.path.join(args.dir, 'runbooks')}")  # fmt: skip
    return EXIT_OK


def run(argv: list[str] | None = None) -> None:
    """The ``remediate`` command: :func:`main`, then leave without tearing the interpreter down.

    Finalizing the interpreter frees every object of every imported module one by one (requests, pyspnego,
    cryptography, paramiko...): ~0.1 s at the end of every run on a 2-core machine, for a process that is ending.
    What an exit must do still happens: the standard streams are flushed, the atexit hooks run (logging's
    included, which flushes and closes the log file). When a thread that is not a daemon is still alive (a
    normal exit would wait for it), the exit is the normal one. While the command starts (parsing, importing
    the transports: tens of thousands of objects that live as long as the process), the cyclic garbage collector
    is held back; see :func:`_collect_again`."""
    global _collection_deferred
    import gc

    gc.disable()
    _collection_deferred = True
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's --help and usage errors
        code = exc.code
    if code is None:
        code = EXIT_OK
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = EXIT_ERROR
    import threading

    if any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = EXIT_PIPE
    with contextlib.suppress(BrokenPipeError):
        sys.stderr.flush()
    import atexit

    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    run()
