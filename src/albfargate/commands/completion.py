"""``albfargate completion bash|zsh``: a shell completion script generated from the CLI's own argparse
parser (so it never drifts from the commands): subcommands, their options, the choices of an option, and
files or directories where an option or argument takes a path. No dependency (argcomplete is not needed).

Install: ``source <(albfargate completion bash)`` (or write it to a file under
``~/.local/share/bash-completion/completions/albfargate``); for zsh ``albfargate completion zsh >
"${fpath[1]}/_albfargate"`` or ``eval "$(albfargate completion zsh)"`` after ``compinit``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

SHELLS = ("bash", "zsh")
#: Metavars whose values are paths (directories or files) when the option's type does not say it.
_DIR_METAVARS = frozenset({"DIR", "APP_DIR"})
_FILE_METAVARS = frozenset({"FILE"})


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "completion",
        help="print the shell completion script (bash or zsh)",
        description="Print a completion script for bash or zsh, generated from the commands themselves. "
        'bash: `source <(albfargate completion bash)` (e.g. in ~/.bashrc); zsh: `eval "$(albfargate '
        'completion zsh)"` after compinit in ~/.zshrc, or save it as _albfargate in a directory of $fpath.',
    )
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    p.set_defaults(func=cmd_completion)


def cmd_completion(args: argparse.Namespace) -> int:
    from albfargate.cli import build_parser

    spec = command_specs(build_parser())
    sys.stdout.write(bash_script(spec) if args.shell == "bash" else zsh_script(spec))
    return 0


# ---- what to complete, read off the parser ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...] = ()
    kind: str = ""  # "dir", "file" or "" (a value we cannot offer)
    repeatable: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]
    positionals: tuple[tuple[str, str, str], ...] = field(default=())  # (metavar, kind, help)


def _kind(action: argparse.Action) -> str:
    metavar = str(action.metavar or "")
    if action.choices:
        return ""
    if metavar in _DIR_METAVARS:
        return "dir"
    if metavar in _FILE_METAVARS or metavar in ("CDK_ARGS",) or action.nargs == argparse.REMAINDER:
        return "file"
    type_name = getattr(action.type, "__name__", "")
    return "file" if type_name in ("Path", "PosixPath") else ""


def _help(action: argparse.Action | argparse.ArgumentParser, fallback: str = "") -> str:
    text = getattr(action, "help", None) or getattr(action, "description", None) or fallback
    return " ".join(str(text).replace("%%", "%").split())


def command_specs(parser: argparse.ArgumentParser) -> tuple[Option | Command, ...]:
    """The top-level options, then one :class:`Command` per subcommand, in the parser's order."""
    out: list[Option | Command] = []
    sub_action = None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub_action = action
        elif action.option_strings and action.help != argparse.SUPPRESS:
            out.append(Option(tuple(action.option_strings), _help(action), takes_value=False))
    if sub_action is not None:
        helps = {a.dest: _help(a) for a in sub_action._choices_actions}
        for name, sub in sub_action.choices.items():
            out.append(_command(name, helps.get(name, ""), sub))
    return tuple(out)


def _command(name: str, help_text: str, sub: argparse.ArgumentParser) -> Command:
    options: list[Option] = []
    positionals: list[tuple[str, str, str]] = []
    for a in sub._actions:
        if a.help == argparse.SUPPRESS:
            continue
        if a.option_strings:
            takes = a.nargs != 0 and not isinstance(a, (argparse._StoreConstAction, argparse._HelpAction))
            options.append(
                Option(
                    tuple(a.option_strings),
                    _help(a),
                    takes_value=takes,
                    choices=tuple(str(c) for c in a.choices or ()),
                    kind=_kind(a) if takes else "",
                    repeatable=isinstance(a, argparse._AppendAction),
                )
            )
        else:
            kind = "choices:" + " ".join(str(c) for c in a.choices) if a.choices else _kind(a)
            positionals.append((str(a.metavar or a.dest).upper(), kind, _help(a)))
    return Command(name, help_text, tuple(options), tuple(positionals))


# ---- bash ---------------------------------------------------------------------------------------------


def _words(items: list[str]) -> str:
    return " ".join(items)


def bash_script(spec: tuple[Option | Command, ...]) -> str:
    top = [f for o in spec if isinstance(o, Option) for f in o.flags]
    commands = [c for c in spec if isinstance(c, Command)]
    lines = [
        "# bash completion for albfargate (generated by `albfargate completion bash`)",
        "_albfargate() {",
        "    local cur prev cmd i",
        '    cur="${COMP_WORDS[COMP_CWORD]}"',
        '    prev=""',
        '    (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    cmd=""',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in',
        "            -*) ;;",
        '            *) cmd="${COMP_WORDS[i]}"; break ;;',
        "        esac",
        "    done",
        "    COMPREPLY=()",
        '    if [[ -z "$cmd" ]]; then',
        f'        COMPREPLY=($(compgen -W "{_words(top + [c.name for c in commands])}" -- "$cur"))',
        "        return 0",
        "    fi",
        '    case "$cmd" in',
    ]
    for c in commands:
        lines.append(f"        {c.name})")
        value_cases = []
        for o in c.options:
            if not o.takes_value:
                continue
            pattern = "|".join(o.flags)
            if o.choices:
                action = f'COMPREPLY=($(compgen -W "{_words(list(o.choices))}" -- "$cur"))'
            elif o.kind == "dir":
                action = 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur"))'
            elif o.kind == "file":
                action = 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))'
            else:
                action = ":"  # a value (a number, a pattern): nothing to offer
            value_cases.append(f"                {pattern}) {action}; return 0 ;;")
        if value_cases:
            lines.append('            case "$prev" in')
            lines.extend(value_cases)
            lines.append("            esac")
        flags = [f for o in c.options for f in o.flags]
        lines.append('            if [[ "$cur" == -* ]]; then')
        lines.append(f'                COMPREPLY=($(compgen -W "{_words(flags)}" -- "$cur"))')
        lines.append("                return 0")
        lines.append("            fi")
        kinds = {k for _, k, _ in c.positionals}
        choice = next((k for k in kinds if k.startswith("choices:")), None)
        if choice is not None:
            lines.append(f'            COMPREPLY=($(compgen -W "{choice[len("choices:") :]}" -- "$cur"))')
        elif "dir" in kinds:
            lines.append('            compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur"))')
        elif "file" in kinds:
            lines.append('            compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))')
        lines.append("            ;;")
    lines += [
        "    esac",
        "    return 0",
        "}",
        "complete -F _albfargate albfargate",
        "",
    ]
    return "\n".join(lines)


# ---- zsh ----------------------------------------------------------------------------------------------


def _zq(text: str) -> str:
    """``text`` inside a single-quoted zsh word."""
    return text.replace("'", "'\\''")


def _spec_text(text: str) -> str:
    """An _arguments description: brackets and colons escaped."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:")


def _zsh_action(choices: tuple[str, ...], kind: str) -> str:
    if choices:
        return f"({' '.join(choices)})"
    if kind == "dir":
        return "_files -/"
    if kind == "file":
        return "_files"
    return " "


def zsh_script(spec: tuple[Option | Command, ...]) -> str:
    commands = [c for c in spec if isinstance(c, Command)]
    lines = [
        "#compdef albfargate",
        "# zsh completion for albfargate (generated by `albfargate completion zsh`)",
        "_albfargate() {",
        '    local curcontext="$curcontext" state line',
        "    typeset -A opt_args",
        "    local -a albfargate_commands",
        "    albfargate_commands=(",
    ]
    lines += [f"        '{_zq(c.name)}:{_zq(c.help)}'" for c in commands]
    lines += [
        "    )",
        "    _arguments -C \\",
        "        '(- *)--version[show the version and exit]' \\",
        "        '(- *)'{-h,--help}'[show help and exit]' \\",
        "        '1: :->command' \\",
        "        '*:: :->args' && return 0",
        "    case $state in",
        "        command)",
        "            _describe -t commands 'albfargate command' albfargate_commands",
        "            ;;",
        "        args)",
        "            case $words[1] in",
    ]
    for c in commands:
        specs: list[str] = []
        for o in c.options:
            desc = _spec_text(o.help)
            value = (
                f":{_spec_text(o.flags[-1].lstrip('-'))}:{_zsh_action(o.choices, o.kind)}"
                if o.takes_value
                else ""
            )
            star = "*" if o.repeatable else ""
            if len(o.flags) == 1:
                specs.append(f"'{star}{o.flags[0]}[{_zq(desc)}]{_zq(value)}'")
            else:
                group = " ".join(o.flags)
                flags = ",".join(o.flags)
                specs.append(f"'({group})'{{{flags}}}'[{_zq(desc)}]{_zq(value)}'")
        for i, (metavar, kind, _) in enumerate(c.positionals, start=1):
            choices = tuple(kind[len("choices:") :].split()) if kind.startswith("choices:") else ()
            action = _zsh_action(choices, "" if choices else kind)
            if metavar == "CDK_ARGS":
                specs.append(f"'*::{_zq(metavar)}:{_zq(action)}'")
            else:
                specs.append(f"'{i}:{_zq(metavar)}:{_zq(action)}'")
        lines.append(f"                {c.name})")
        lines.append("                    _arguments -s \\")
        lines += [f"                        {s} \\" for s in specs]
        lines.append("                        && return 0")
        lines.append("                    ;;")
    lines += [
        "            esac",
        "            ;;",
        "    esac",
        "}",
        'if [[ "${zsh_eval_context[-1]}" == loadautofunc ]]; then',
        '    _albfargate "$@"',
        "else",
        "    compdef _albfargate albfargate",
        "fi",
        "",
    ]
    return "\n".join(lines)
