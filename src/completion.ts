// Shell completion scripts, built from the commander program itself, so a new command or option
// completes without anyone remembering to edit a script. Pure: a program in, the script text out.
import type { Command, Option } from 'commander';

export type Shell = 'bash' | 'zsh' | 'fish';

/** What a completion script needs to know about one command. */
export interface CompletionNode {
  name: string;
  description: string;
  /** Names from the program down to this command, without the program's own name. */
  path: string[];
  options: CompletionOption[];
  commands: CompletionNode[];
  /** Values its positional arguments can take (their choices; `help [command]`: the sibling commands). */
  argumentValues: string[];
}

export interface CompletionOption {
  short?: string;
  long?: string;
  description: string;
  /** 'none': a switch; 'files': the value is a path; 'any': free text; 'choices': one of `choices`. */
  value: 'none' | 'files' | 'any' | 'choices';
  choices: string[];
}

/** The visible commands and options of `program`, as a tree (hidden ones stay hidden). */
export function describeProgram(program: Command): CompletionNode {
  return describe(program, []);
}

function describe(command: Command, path: string[], siblings: string[] = []): CompletionNode {
  const help = command.createHelp();
  const children = help.visibleCommands(command);
  const childNames = children.map((child) => child.name());
  const argumentValues = command.registeredArguments.flatMap((argument) =>
    // commander's implicit `help [command]` takes the name of a command next to it.
    command.name() === 'help' && argument.name() === 'command' ? siblings : (argument.argChoices ?? []));
  return {
    name: command.name(),
    description: firstLine(command.summary() || command.description()),
    path,
    options: help.visibleOptions(command).map(describeOption),
    commands: children.map((child) => describe(child, [...path, child.name()], childNames.filter((name) => name !== 'help'))),
    argumentValues: [...new Set(argumentValues)],
  };
}

function describeOption(option: Option): CompletionOption {
  const takesValue = option.required || option.optional;
  const choices = option.argChoices ?? [];
  // The value's name in the flags says what it is: `--file <path>`, `--env-file <path>`.
  const isPath = /[<[](path|file)[\]>]/.test(option.flags);
  return {
    short: option.short,
    long: option.long,
    description: firstLine(option.description),
    value: !takesValue ? 'none' : choices.length > 0 ? 'choices' : isPath ? 'files' : 'any',
    choices: [...choices],
  };
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

/** Every node of the tree, the program first. */
export function allNodes(root: CompletionNode): CompletionNode[] {
  return [root, ...root.commands.flatMap(allNodes)];
}

export function completionScript(shell: Shell, program: Command): string {
  const root = describeProgram(program);
  checkWords(root);
  switch (shell) {
    case 'bash':
      return bashScript(root);
    case 'zsh':
      return zshScript(root);
    case 'fish':
      return fishScript(root);
  }
}

/** Names and choices go into word lists unquoted; a name with a space or quote would be a bug. */
function checkWords(root: CompletionNode): void {
  const words = allNodes(root).flatMap((node) => [
    ...node.commands.map((child) => child.name),
    ...node.argumentValues,
    ...node.options.flatMap((option) => [option.short, option.long, ...option.choices]),
  ]);
  const bad = words.find((word) => word !== undefined && !/^[\w.@%+,:/-]+$/.test(word));
  if (bad !== undefined) throw new Error(`completion: "${bad}" cannot be completed as a plain word`);
}

const optionNames = (option: CompletionOption) => [option.short, option.long].filter((name): name is string => name !== undefined);
const pathKey = (node: CompletionNode) => node.path.join(' ');

/** A single-quoted word for bash and zsh. */
function shQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A single-quoted word for fish (which knows \\ and \' inside single quotes). */
function fishQuote(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function words(list: string[]): string {
  return shQuote(list.join(' '));
}

/** The value kind a script's `_pgfactory_value` reports: `choices a b c`, `files` or `any`. */
function valueKind(option: CompletionOption): string {
  return option.value === 'choices' ? `choices ${option.choices.join(' ')}` : option.value;
}

/** `case` arms, one per node (or per node and option), shared by the bash and zsh scripts. */
function caseArms(root: CompletionNode, body: (node: CompletionNode) => string | undefined): string {
  return allNodes(root)
    .map((node) => ({ node, text: body(node) }))
    .filter((arm) => arm.text !== undefined)
    .map(({ node, text }) => `    ${shQuote(pathKey(node))}) ${text} ;;`)
    .join('\n');
}

function valueArms(root: CompletionNode, body: (option: CompletionOption) => string): string {
  return allNodes(root)
    .flatMap((node) =>
      node.options
        .filter((option) => option.value !== 'none')
        .map((option) => `    ${optionNames(option).map((name) => shQuote(`${pathKey(node)}|${name}`)).join('|')}) ${body(option)}; return 0 ;;`))
    .join('\n');
}

function bashScript(root: CompletionNode): string {
  const program = root.name;
  const fn = `_${program}`;
  return `# bash completion for ${program} (generated by \`${program} completion bash\`)
# Install: ${program} completion bash > ~/.local/share/bash-completion/completions/${program}
#      or: add  source <(${program} completion bash)  to ~/.bashrc

# The subcommands of a command path ('' is the program itself).
${fn}_commands() {
  case "$1" in
${caseArms(root, (node) => (node.commands.length > 0 ? `echo ${words(node.commands.map((child) => child.name))}` : undefined))}
  esac
}

${fn}_options() {
  case "$1" in
${caseArms(root, (node) => `echo ${words(node.options.flatMap(optionNames))}`)}
  esac
}

# Values the positional arguments of a command path can take.
${fn}_arguments() {
  case "$1" in
${caseArms(root, (node) => (node.argumentValues.length > 0 ? `echo ${words(node.argumentValues)}` : undefined))}
  esac
}

# Succeeds when option $2 of command path $1 takes a value, and prints what kind:
# "choices a b c", "files" or "any".
${fn}_value() {
  case "$1|$2" in
${valueArms(root, (option) => `echo ${shQuote(valueKind(option))}`)}
  esac
  return 1
}

${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath='' option='' prefix='' word sub kind i
  COMPREPLY=()
  # Walk the words before the cursor: descend into subcommands, skip option values.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      -*=*) continue ;;
      -*)
        if ${fn}_value "$cmdpath" "$word" >/dev/null; then
          # "--format=csv" arrives as three words when "=" is in COMP_WORDBREAKS.
          if [[ "\${COMP_WORDS[i+1]}" == '=' ]]; then ((i++)); fi
          if ((i + 1 >= COMP_CWORD)); then option="$word"; fi
          ((i++))
        fi
        continue ;;
    esac
    for sub in $(${fn}_commands "$cmdpath"); do
      if [[ "$word" == "$sub" ]]; then cmdpath="\${cmdpath:+$cmdpath }$sub"; break; fi
    done
  done
  if [[ -n "$option" && "$cur" == '=' ]]; then cur=''; fi
  # "--format=cs" as one word (when "=" is not a word break): complete after the "=".
  if [[ -z "$option" && "$cur" == -*=* ]] && ${fn}_value "$cmdpath" "\${cur%%=*}" >/dev/null; then
    option="\${cur%%=*}"; prefix="$option="; cur="\${cur#*=}"
  fi
  if [[ -n "$option" ]]; then
    kind="$(${fn}_value "$cmdpath" "$option")"
    case "$kind" in
      files)
        compopt -o filenames 2>/dev/null
        local IFS=$'\\n'
        COMPREPLY=($(compgen -f -- "$cur")) ;;
      choices\\ *) COMPREPLY=($(compgen -P "$prefix" -W "\${kind#choices }" -- "$cur")) ;;
    esac
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(${fn}_options "$cmdpath")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(${fn}_commands "$cmdpath") $(${fn}_arguments "$cmdpath")" -- "$cur"))
  fi
  return 0
}

complete -F ${fn} ${program}
`;
}

/** `name:description` entries for zsh's _describe (a colon in the name must be escaped). */
function describeEntries(entries: Array<{ name: string; description: string }>): string {
  return entries.map((entry) => shQuote(`${entry.name.replaceAll(':', '\\:')}:${entry.description}`)).join(' ');
}

function zshScript(root: CompletionNode): string {
  const program = root.name;
  const fn = `_${program}`;
  return `#compdef ${program}
# zsh completion for ${program} (generated by \`${program} completion zsh\`)
# Install: ${program} completion zsh > "\${fpath[1]}/_${program}"   (then start a new shell)
#      or: add  source <(${program} completion zsh)  to ~/.zshrc, after compinit

# Each helper sets $reply. The subcommands of a command path ('' is the program itself):
${fn}_commands() {
  reply=()
  case "$1" in
${caseArms(root, (node) => (node.commands.length > 0 ? `reply=(${describeEntries(node.commands)})` : undefined))}
  esac
}

${fn}_options() {
  reply=()
  case "$1" in
${caseArms(root, (node) => `reply=(${describeEntries(node.options.flatMap((option) => optionNames(option).map((name) => ({ name, description: option.description }))))})`)}
  esac
}

# Values the positional arguments of a command path can take.
${fn}_arguments() {
  reply=()
  case "$1" in
${caseArms(root, (node) => (node.argumentValues.length > 0 ? `reply=(${node.argumentValues.map(shQuote).join(' ')})` : undefined))}
  esac
}

# Succeeds when option $2 of command path $1 takes a value; reply=(choices a b c), (files) or (any).
${fn}_value() {
  reply=()
  case "$1|$2" in
${valueArms(root, (option) => `reply=(${valueKind(option).split(' ').map(shQuote).join(' ')})`)}
  esac
  return 1
}

${fn}() {
  local cur="\${words[CURRENT]}" cmdpath='' option='' word sub i
  local -a reply subcommands
  # Walk the words before the cursor: descend into subcommands, skip option values.
  for ((i = 2; i < CURRENT; i++)); do
    word="\${words[i]}"
    case "$word" in
      -*=*) continue ;;
      -*)
        if ${fn}_value "$cmdpath" "$word"; then
          if ((i + 1 >= CURRENT)); then option="$word"; fi
          ((i++))
        fi
        continue ;;
    esac
    ${fn}_commands "$cmdpath"
    for sub in "\${reply[@]}"; do
      sub="\${sub%%:*}"
      if [[ "$word" == "$sub" ]]; then cmdpath="\${cmdpath:+$cmdpath }$sub"; break; fi
    done
  done
  # "--format=cs": complete after the "=".
  if [[ -z "$option" && "$cur" == -*=* ]] && ${fn}_value "$cmdpath" "\${cur%%=*}"; then
    option="\${cur%%=*}"
    compset -P '*='
  fi
  if [[ -n "$option" ]]; then
    ${fn}_value "$cmdpath" "$option"
    case "\${reply[1]}" in
      files) _files ;;
      choices) compadd -- "\${(@)reply[2,-1]}" ;;
      *) _message 'value' ;;
    esac
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    ${fn}_options "$cmdpath"
    _describe -t options 'option' reply
  else
    ${fn}_commands "$cmdpath"
    subcommands=("\${reply[@]}")
    ${fn}_arguments "$cmdpath"
    if ((\${#subcommands})); then _describe -t commands 'command' subcommands; fi
    if ((\${#reply})); then compadd -- "\${reply[@]}"; fi
  fi
  return 0
}

# Loaded from $fpath (autoload) the file body is the completion; sourced, it registers itself.
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${program}
fi
`;
}

/** The fish condition that is true when the command line is at `node`: exactly there when it has
 *  subcommands (so they stop being offered once one is typed), at or past it when it is a leaf. */
function fishCondition(node: CompletionNode, program: string): string {
  return [`__${program}_at`, node.commands.length > 0 ? 'exact' : 'prefix', ...node.path].join(' ');
}

function fishScript(root: CompletionNode): string {
  const program = root.name;
  const lines: string[] = [];
  for (const node of allNodes(root)) {
    const condition = fishQuote(fishCondition(node, program));
    for (const child of node.commands) {
      lines.push(`complete -c ${program} -n ${condition} -a ${child.name} -d ${fishQuote(child.description)}`);
    }
    if (node.argumentValues.length > 0) {
      lines.push(`complete -c ${program} -n ${condition} -a ${fishQuote(node.argumentValues.join(' '))}`);
    }
    for (const option of node.options) {
      const names = [
        option.short !== undefined ? `-s ${option.short.replace(/^-/, '')}` : undefined,
        option.long !== undefined ? `-l ${option.long.replace(/^--/, '')}` : undefined,
      ].filter((part) => part !== undefined);
      const value = option.value === 'none' ? '' : option.value === 'files' ? ' -r -F' : option.value === 'choices' ? ` -x -a ${fishQuote(option.choices.join(' '))}` : ' -x';
      lines.push(`complete -c ${program} -n ${condition} ${names.join(' ')}${value} -d ${fishQuote(option.description)}`);
    }
  }
  return `# fish completion for ${program} (generated by \`${program} completion fish\`)
# Install: ${program} completion fish > ~/.config/fish/completions/${program}.fish

# True when the words before the cursor (options left out) name this command path: "exact" for a
# command with subcommands, "prefix" for a command that takes arguments after its name.
function __${program}_at
    set -l mode $argv[1]
    set -l want $argv[2..-1]
    set -l seen
    for word in (commandline -opc)[2..-1]
        string match -q -- '-*' $word; or set -a seen $word
    end
    set -l n (count $want)
    if test $mode = exact; and test (count $seen) -ne $n
        return 1
    end
    test (count $seen) -ge $n; or return 1
    test $n -eq 0; and return 0
    test "$seen[1..$n]" = "$want"
end

# No file names unless an option takes a path.
complete -c ${program} -f
${lines.join('\n')}
`;
}
