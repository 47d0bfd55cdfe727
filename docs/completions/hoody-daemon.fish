# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_hoody_daemon_global_optspecs
    string join \n url= token-file= json h/help V/version
end

function __fish_hoody_daemon_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_hoody_daemon_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_hoody_daemon_using_subcommand
    set -l cmd (__fish_hoody_daemon_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -s V -l version -d 'Print version'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "serve" -d 'Run the daemon: read programs.d, start the boot programs by priority, serve the API'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "validate" -d 'Check every program file of a folder; print every problem, or a one-line summary'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "programs" -d 'Create, inspect, change and control programs (the files in programs.d)'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "quick-start" -d 'Run one-off commands that are never written to programs.d'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "status" -d 'The status of every program (the same as `programs status`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "ls" -d 'List every program with its state (the same as `programs list`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "start" -d 'Start a program, or `all` (the same as `programs start`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "stop" -d 'Stop a program, or `all` (the same as `programs stop`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "restart" -d 'Restart a program, or `all` (the same as `programs restart`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "history" -d 'The changes of a program\'s file, with their diffs (the same as `programs history`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "logs" -d 'Print the last lines of every program (or of those named), merged in time order, as `NAME stream | line`; `-f` keeps printing new lines'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "events" -d 'Follow the daemon\'s events (config, state and health changes) as they happen, one line each: `ID  TIME  KIND  NAME  what` (`--json`: `{id, event, data}` a line)'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "ready" -d 'Whether every program that should run is ready (GET /ready): exit 0 when it is'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "diff" -d 'Show what `apply DIR` would change: a unified diff per program file'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "apply" -d 'Make the running daemon\'s programs.d equal DIR, through the API, printing the diffs'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "import" -d 'Turn a supervisord or PM2 configuration into program files'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "completions" -d 'Print a shell completion script to stdout'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "man" -d 'Print the man page (roff) to stdout, or every page into a folder'
complete -c hoody-daemon -n "__fish_hoody_daemon_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l programs-dir -d 'The folder of program files (the desired state)' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l state-dir -d 'Where ids, run intents and the record of running processes are kept [default: .hoody-daemon/state beside the programs folder]' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l log-dir -d 'Where "auto" logs go [default: .hoody-daemon/logs beside the programs folder]' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l listen -d 'HOST:PORT or unix:/path/to.sock (created with mode 0600)' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l log-console-format -d 'The console\'s format: `plain` (`NAME | line`) or `json` (one object a line: time, program, stream, line). Implies --log-console' -r -f -a "plain\t''
json\t''"
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l log-budget -d 'Keep all log files together (rotated ones included) within SIZE plus one file\'s maxbytes (e.g. 1GB): the oldest rotated files are deleted first, current files never' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l tokens-file -d 'Bearer tokens with roles (read, operate, admin), a TOML file of `[[tokens]]` entries (name, role, sha256 or token); refused when its group or others can read it. With any token, the token decides who may do what; without, only the daemon\'s own user and root may use the API' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l allow-origin -d 'A web origin (scheme://host[:port]) whose pages may call the API, besides the daemon\'s own; repeatable. Any other Origin gets 403' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l allow-host -d 'A host name (or NAME:PORT) the API may be reached by, besides loopback names and addresses and the listen address (behind a proxy: the proxy\'s name); repeatable. Any other Host gets 403 (DNS rebinding)' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l metrics-compat -d 'Also write another exporter\'s metric names on GET /metrics, so existing dashboards keep working: `supervisord` (supervisord_exporter\'s supervisor_process_info, supervisor_process_uptime, supervisord_up, and node_exporter\'s node_supervisord_*)' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l log-timestamps -d 'Prefix every stored log line with its time (RFC 3339 UTC, milliseconds): the default of each program\'s `log_timestamps`'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l log-console -d 'Copy every program\'s output to this process\'s stdout (stderr lines to stderr) as `NAME | line`, for `docker logs`; a program opts out with `console = false`'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l no-cgroups -d 'Never make cgroups: follow programs\' processes by the marks in their environment, as where no cgroup can be made (for tests and diagnosis; docs/RELIABILITY.md)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand validate" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand validate" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand validate" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "create" -d 'Create a program: writes programs.d/NAME.toml (or .yaml) through the API'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "list" -d 'List every program with its state'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "ls" -d 'List every program with its state'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "get" -d 'Show one program: its fields, file, status and config error'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "edit" -d 'Change a program\'s fields; only the fields given change'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "delete" -d 'Delete a program\'s file; its process stops and its id is retired'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "rm" -d 'Delete a program\'s file; its process stops and its id is retired'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "enable" -d 'Set enabled = true ("the program can run"); never starts it'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "disable" -d 'Set enabled = false; stops it'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "start" -d 'Start the process (the program must be enabled); `all` starts every enabled program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "stop" -d 'Stop the process; `all` stops every program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "restart" -d 'Stop then start the process; `all` restarts every enabled program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "signal" -d 'Send a signal to the program\'s main process (`programs signal nginx HUP`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "history" -d 'The changes of a program\'s file: when, by whom (file or API), and the diff'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "status" -d 'The status of one program, or of every program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "logs" -d 'Print a program\'s logs: both streams as `stream | line` in time order, or one stream (`--stream stdout|stderr`) as stored'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and not __fish_seen_subcommand_from create list ls get edit delete rm enable disable start stop restart signal history status logs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l name -d 'The program\'s name, also its file\'s name' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l command -d 'The command: split into words like a shell would, without a shell' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l user -d 'The user to run as (name or uid)' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l autorestart -d 'Restart on exit: true, false or unexpected (only on an exit code not in exitcodes)' -r -f -a "true\t''
false\t''
unexpected\t''"
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l directory -d 'The working folder of the process' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l description -d 'A description, for people' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l enabled -d 'Whether the program may run' -r -f -a "true\t''
false\t''"
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l boot -d 'Start it when the daemon starts and when its file first appears' -r -f -a "true\t''
false\t''"
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l priority -d 'Lower starts first at boot and stops last at shutdown' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l env -d 'An environment variable, KEY=VALUE (repeatable). `edit` adds to the environment' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l stdout-logfile -d 'Where stdout goes: a path, auto or none' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l stderr-logfile -d 'Where stderr goes: a path, auto or none' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l set -d 'Any other field, FIELD=VALUE (repeatable); VALUE is read as JSON when it parses (`--set exitcodes=[0,2]`, `--set startsecs=5`), else as a string' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l format -d 'The file\'s format' -r -f -a "toml\t''
yaml\t''"
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from list" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from list" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from list" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from ls" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from ls" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from ls" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from get" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from get" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from get" -l file -d 'Print the program\'s file as written instead'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from get" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l command -d 'The command' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l user -d 'The user to run as (name or uid)' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l autorestart -d 'Restart on exit: true, false or unexpected (only on an exit code not in exitcodes)' -r -f -a "true\t''
false\t''
unexpected\t''"
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l directory -d 'The working folder of the process' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l description -d 'A description, for people' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l enabled -d 'Whether the program may run' -r -f -a "true\t''
false\t''"
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l boot -d 'Start it when the daemon starts and when its file first appears' -r -f -a "true\t''
false\t''"
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l priority -d 'Lower starts first at boot and stops last at shutdown' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l env -d 'An environment variable, KEY=VALUE (repeatable). `edit` adds to the environment' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l stdout-logfile -d 'Where stdout goes: a path, auto or none' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l stderr-logfile -d 'Where stderr goes: a path, auto or none' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l set -d 'Any other field, FIELD=VALUE (repeatable); VALUE is read as JSON when it parses (`--set exitcodes=[0,2]`, `--set startsecs=5`), else as a string' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l unset-env -d 'Remove a variable from the environment (repeatable)' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l reset -d 'Reset a field to its default (repeatable), e.g. `--reset priority`' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from edit" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from delete" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from delete" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from delete" -l no-wait -d 'Answer at once instead of waiting until the change has happened'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from delete" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from rm" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from rm" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from rm" -l no-wait -d 'Answer at once instead of waiting until the change has happened'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from rm" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from enable" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from enable" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from enable" -l no-wait -d 'Answer at once instead of waiting until the change has happened'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from enable" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from disable" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from disable" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from disable" -l no-wait -d 'Answer at once instead of waiting until the change has happened'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from disable" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from start" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from start" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from start" -l no-wait -d 'Answer at once instead of waiting until the change has happened'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from start" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from stop" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from stop" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from stop" -l no-wait -d 'Answer at once instead of waiting until the change has happened'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from stop" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from restart" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from restart" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from restart" -l no-wait -d 'Answer at once instead of waiting until the change has happened'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from restart" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from restart" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from signal" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from signal" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from signal" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from signal" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from history" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from history" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from history" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from history" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from status" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from status" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from status" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from logs" -l stream -d 'Which log' -r -f -a "stdout\t''
stderr\t''
both\t''"
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from logs" -s n -l lines -d 'How many of the last lines' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from logs" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from logs" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from logs" -s f -l follow -d 'Keep printing new lines as they come (Ctrl-C ends)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from logs" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from logs" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a program: writes programs.d/NAME.toml (or .yaml) through the API'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "list" -d 'List every program with its state'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "get" -d 'Show one program: its fields, file, status and config error'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "edit" -d 'Change a program\'s fields; only the fields given change'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a program\'s file; its process stops and its id is retired'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "enable" -d 'Set enabled = true ("the program can run"); never starts it'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "disable" -d 'Set enabled = false; stops it'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "start" -d 'Start the process (the program must be enabled); `all` starts every enabled program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "stop" -d 'Stop the process; `all` stops every program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "restart" -d 'Stop then start the process; `all` restarts every enabled program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "signal" -d 'Send a signal to the program\'s main process (`programs signal nginx HUP`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "history" -d 'The changes of a program\'s file: when, by whom (file or API), and the diff'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "status" -d 'The status of one program, or of every program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "logs" -d 'Print a program\'s logs: both streams as `stream | line` in time order, or one stream (`--stream stdout|stderr`) as stored'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand programs; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and not __fish_seen_subcommand_from run list ls status stop logs help" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and not __fish_seen_subcommand_from run list ls status stop logs help" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and not __fish_seen_subcommand_from run list ls status stop logs help" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and not __fish_seen_subcommand_from run list ls status stop logs help" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and not __fish_seen_subcommand_from run list ls status stop logs help" -f -a "run" -d 'Run a one-off command: `quick-start run -- CMD ARG…`'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and not __fish_seen_subcommand_from run list ls status stop logs help" -f -a "list" -d 'List quick-start programs, running and finished'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and not __fish_seen_subcommand_from run list ls status stop logs help" -f -a "ls" -d 'List quick-start programs, running and finished'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and not __fish_seen_subcommand_from run list ls status stop logs help" -f -a "status" -d 'The status of a quick-start program, with its exit code once it ended'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and not __fish_seen_subcommand_from run list ls status stop logs help" -f -a "stop" -d 'Stop a quick-start program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and not __fish_seen_subcommand_from run list ls status stop logs help" -f -a "logs" -d 'Print a quick-start program\'s output'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and not __fish_seen_subcommand_from run list ls status stop logs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from run" -l directory -d 'The working folder' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from run" -l user -d 'The user to run as (name or uid)' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from run" -l env -d 'An environment variable, KEY=VALUE (repeatable)' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from run" -l timeout -d 'Stop it after this many seconds' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from run" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from run" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from run" -l wait -d 'Wait until it ends, print its output, and exit 0 if it exited 0 (else 1)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from run" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from list" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from list" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from list" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from ls" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from ls" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from ls" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from status" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from status" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from status" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from stop" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from stop" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from stop" -l no-wait -d 'Answer at once instead of waiting until the change has happened'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from stop" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from logs" -l stream -d 'Which log' -r -f -a "stdout\t''
stderr\t''
both\t''"
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from logs" -s n -l lines -d 'How many of the last lines' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from logs" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from logs" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from logs" -s f -l follow -d 'Keep printing new lines as they come (Ctrl-C ends)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from logs" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from logs" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from help" -f -a "run" -d 'Run a one-off command: `quick-start run -- CMD ARG…`'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from help" -f -a "list" -d 'List quick-start programs, running and finished'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from help" -f -a "status" -d 'The status of a quick-start program, with its exit code once it ended'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from help" -f -a "stop" -d 'Stop a quick-start program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from help" -f -a "logs" -d 'Print a quick-start program\'s output'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand quick-start; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand status" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand status" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand status" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand status" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand ls" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand ls" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand ls" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand ls" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand start" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand start" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand start" -l no-wait -d 'Answer at once instead of waiting until the change has happened'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand start" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand start" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand stop" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand stop" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand stop" -l no-wait -d 'Answer at once instead of waiting until the change has happened'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand stop" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand stop" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand restart" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand restart" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand restart" -l no-wait -d 'Answer at once instead of waiting until the change has happened'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand restart" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand restart" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand history" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand history" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand history" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand history" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand logs" -s n -l lines -d 'How many of the last lines, in all' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand logs" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand logs" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand logs" -s f -l follow -d 'Keep printing new lines as they come (Ctrl-C ends)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand logs" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand logs" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand events" -l since -d 'Resume after this event id (sent as Last-Event-ID)' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand events" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand events" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand events" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand events" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand ready" -l wait -d 'Keep asking until ready or this many seconds have passed (a daemon that is not listening yet counts as not ready meanwhile)' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand ready" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand ready" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand ready" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand ready" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand diff" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand diff" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand diff" -l exit-code -d 'Exit 1 when there are changes, 0 when there are none (as `git diff --exit-code`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand diff" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand diff" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand apply" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand apply" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand apply" -l prune -d 'Also remove the programs DIR lacks (their processes stop)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand apply" -l dry-run -d 'Print what would change and change nothing'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand apply" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and not __fish_seen_subcommand_from supervisord pm2 help" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and not __fish_seen_subcommand_from supervisord pm2 help" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and not __fish_seen_subcommand_from supervisord pm2 help" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and not __fish_seen_subcommand_from supervisord pm2 help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and not __fish_seen_subcommand_from supervisord pm2 help" -f -a "supervisord" -d 'supervisord.conf (or a folder: its supervisord.conf, else its *.conf and *.ini): each [program:x] becomes a program; [include] files= globs are followed'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and not __fish_seen_subcommand_from supervisord pm2 help" -f -a "pm2" -d 'A PM2 ecosystem (.json, .yaml, .config.js, evaluated with node) or `pm2 jlist` output (a file, or - for standard input)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and not __fish_seen_subcommand_from supervisord pm2 help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l out -d 'The folder to write the program files into (made if missing), e.g. programs.d' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l format -d 'The files\' format' -r -f -a "toml\t''
yaml\t''"
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l force -d 'Replace program files that already exist (a file of the same name in another format is still refused)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from supervisord" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from pm2" -l env -d 'Apply the apps\' env_NAME over env, as `pm2 start --env NAME` does' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from pm2" -l out -d 'The folder to write the program files into (made if missing), e.g. programs.d' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from pm2" -l format -d 'The files\' format' -r -f -a "toml\t''
yaml\t''"
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from pm2" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from pm2" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from pm2" -l force -d 'Replace program files that already exist (a file of the same name in another format is still refused)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from pm2" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from pm2" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "supervisord" -d 'supervisord.conf (or a folder: its supervisord.conf, else its *.conf and *.ini): each [program:x] becomes a program; [include] files= globs are followed'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "pm2" -d 'A PM2 ecosystem (.json, .yaml, .config.js, evaluated with node) or `pm2 jlist` output (a file, or - for standard input)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand completions" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand completions" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand completions" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand completions" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand man" -l out -d 'Write the page of every command and subcommand into this folder (hoody-daemon.1, hoody-daemon-programs.1, hoody-daemon-programs-start.1 …)' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand man" -l url -d 'The daemon\'s address: http://HOST:PORT or unix:/path/to.sock' -r
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand man" -l token-file -d 'A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token every request must send; for the client commands: the token to send' -r -F
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand man" -l json -d 'Print the API\'s `data` as JSON (for scripts) instead of tables and messages'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand man" -s h -l help -d 'Print help'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "serve" -d 'Run the daemon: read programs.d, start the boot programs by priority, serve the API'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "validate" -d 'Check every program file of a folder; print every problem, or a one-line summary'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "programs" -d 'Create, inspect, change and control programs (the files in programs.d)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "quick-start" -d 'Run one-off commands that are never written to programs.d'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "status" -d 'The status of every program (the same as `programs status`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "ls" -d 'List every program with its state (the same as `programs list`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "start" -d 'Start a program, or `all` (the same as `programs start`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "stop" -d 'Stop a program, or `all` (the same as `programs stop`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "restart" -d 'Restart a program, or `all` (the same as `programs restart`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "history" -d 'The changes of a program\'s file, with their diffs (the same as `programs history`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "logs" -d 'Print the last lines of every program (or of those named), merged in time order, as `NAME stream | line`; `-f` keeps printing new lines'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "events" -d 'Follow the daemon\'s events (config, state and health changes) as they happen, one line each: `ID  TIME  KIND  NAME  what` (`--json`: `{id, event, data}` a line)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "ready" -d 'Whether every program that should run is ready (GET /ready): exit 0 when it is'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "diff" -d 'Show what `apply DIR` would change: a unified diff per program file'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "apply" -d 'Make the running daemon\'s programs.d equal DIR, through the API, printing the diffs'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "import" -d 'Turn a supervisord or PM2 configuration into program files'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "completions" -d 'Print a shell completion script to stdout'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "man" -d 'Print the man page (roff) to stdout, or every page into a folder'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and not __fish_seen_subcommand_from serve validate programs quick-start status ls start stop restart history logs events ready diff apply import completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "create" -d 'Create a program: writes programs.d/NAME.toml (or .yaml) through the API'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "list" -d 'List every program with its state'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "get" -d 'Show one program: its fields, file, status and config error'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "edit" -d 'Change a program\'s fields; only the fields given change'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "delete" -d 'Delete a program\'s file; its process stops and its id is retired'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "enable" -d 'Set enabled = true ("the program can run"); never starts it'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "disable" -d 'Set enabled = false; stops it'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "start" -d 'Start the process (the program must be enabled); `all` starts every enabled program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "stop" -d 'Stop the process; `all` stops every program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "restart" -d 'Stop then start the process; `all` restarts every enabled program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "signal" -d 'Send a signal to the program\'s main process (`programs signal nginx HUP`)'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "history" -d 'The changes of a program\'s file: when, by whom (file or API), and the diff'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "status" -d 'The status of one program, or of every program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from programs" -f -a "logs" -d 'Print a program\'s logs: both streams as `stream | line` in time order, or one stream (`--stream stdout|stderr`) as stored'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from quick-start" -f -a "run" -d 'Run a one-off command: `quick-start run -- CMD ARG…`'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from quick-start" -f -a "list" -d 'List quick-start programs, running and finished'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from quick-start" -f -a "status" -d 'The status of a quick-start program, with its exit code once it ended'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from quick-start" -f -a "stop" -d 'Stop a quick-start program'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from quick-start" -f -a "logs" -d 'Print a quick-start program\'s output'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "supervisord" -d 'supervisord.conf (or a folder: its supervisord.conf, else its *.conf and *.ini): each [program:x] becomes a program; [include] files= globs are followed'
complete -c hoody-daemon -n "__fish_hoody_daemon_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "pm2" -d 'A PM2 ecosystem (.json, .yaml, .config.js, evaluated with node) or `pm2 jlist` output (a file, or - for standard input)'
