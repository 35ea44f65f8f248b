# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_popfetch_global_optspecs
    string join \n c/config= v/verbose q/quiet progress= json j/jobs= state-dir= host= port= user= tls= auth= password-command= allow-plaintext tls-ca-file= tls-fingerprint= tls-client-cert= tls-client-key= proxy= maildir= mbox= mda= lmtp= smtp= recipient= keep no-keep delete-after-days= max-size= max-messages= fetch-all timeout= pipelining= received-header no-received-header commit-every= log-file= syslog no-syslog h/help V/version
end

function __fish_popfetch_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_popfetch_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_popfetch_using_subcommand
    set -l cmd (__fish_popfetch_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c popfetch -n "__fish_popfetch_needs_command" -s c -l config -d 'Read accounts from FILE instead of $XDG_CONFIG_HOME/popfetch/config.toml' -r -F
complete -c popfetch -n "__fish_popfetch_needs_command" -l progress -d 'Show progress bars: "auto" shows them only when stderr is a terminal' -r -f -a "auto\t'Only when stderr is a terminal'
always\t'Always, even into a pipe or file'
never\t'Never'"
complete -c popfetch -n "__fish_popfetch_needs_command" -s j -l jobs -d 'Fetch from up to N accounts at the same time' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l state-dir -d 'Keep the record of delivered messages in DIR instead of $XDG_STATE_HOME/popfetch' -r -F
complete -c popfetch -n "__fish_popfetch_needs_command" -l host -d 'The POP3 server\'s host name' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l port -d 'The server\'s port (default: 995 with --tls implicit, 110 otherwise)' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l user -d 'The login name on the server' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l tls -d 'How to secure the connection (default: implicit)' -r -f -a "implicit\t'TLS from the first byte (POP3S, port 995)'
starttls\t'Plain connection upgraded with STLS; refused if the server does not offer it'
none\t'No encryption; needs --allow-plaintext to send a password'"
complete -c popfetch -n "__fish_popfetch_needs_command" -l auth -d 'Which login method to use (default: auto, the strongest the server offers)' -r -f -a "auto\t'The strongest method the server offers'
user\t'USER and PASS'
apop\t'APOP (MD5 challenge)'
plain\t'SASL PLAIN'
login\t'SASL LOGIN'
cram-md5\t'SASL CRAM-MD5'
scram-sha-256\t'SASL SCRAM-SHA-256'
scram-sha-1\t'SASL SCRAM-SHA-1'
xoauth2\t'OAuth 2 token, XOAUTH2 (Google, Microsoft); the password source prints the token'
oauthbearer\t'OAuth 2 token, OAUTHBEARER (RFC 7628); the password source prints the token'"
complete -c popfetch -n "__fish_popfetch_needs_command" -l password-command -d 'Run CMD through sh -c and use the first line it prints as the password' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l tls-ca-file -d 'Trust the certificate authorities in FILE (PEM) instead of the system\'s' -r -F
complete -c popfetch -n "__fish_popfetch_needs_command" -l tls-fingerprint -d 'Accept exactly the server certificate with this SHA-256 fingerprint: 32 hex bytes as `popfetch serverinfo`, `openssl x509 -noout -fingerprint -sha256` or mpop print them ("sha256:" prefix and colons optional)' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l tls-client-cert -d 'Show the server the client certificate in FILE (PEM); its key comes from --tls-client-key, or from FILE itself when that holds it too' -r -F
complete -c popfetch -n "__fish_popfetch_needs_command" -l tls-client-key -d 'The private key (PEM, not encrypted) of the client certificate' -r -F
complete -c popfetch -n "__fish_popfetch_needs_command" -l proxy -d 'Connect through the SOCKS5 proxy at URL, socks5://HOST:PORT; the proxy resolves the server\'s host name. A proxy that wants a password is set in the config file, since a password on the command line is visible to other users' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l maildir -d 'Deliver into the Maildir DIR (created if missing)' -r -F
complete -c popfetch -n "__fish_popfetch_needs_command" -l mbox -d 'Append to the mbox FILE (mboxrd format)' -r -F
complete -c popfetch -n "__fish_popfetch_needs_command" -l mda -d 'Pipe each message to CMD, run through sh -c; %F is replaced by the sender (or MAILER-DAEMON when it is not a plausible address) and %T by the account\'s user, both shell-quoted' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l lmtp -d 'Hand each message to the LMTP server at ADDR: unix:/path for a socket, or host:port' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l smtp -d 'Hand each message to the SMTP server at ADDR, host:port (port 25 if left out), normally this machine\'s mail server' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l recipient -d 'With --lmtp or --smtp: the envelope recipient (default: the account\'s user)' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l delete-after-days -d 'With --keep: delete messages first seen more than N days ago' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l max-size -d 'Leave messages larger than SIZE on the server: bytes, or with a suffix k, M or G (powers of 1024), e.g. 10M' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l max-messages -d 'Fetch at most N messages per run, oldest first' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l timeout -d 'Give up on connecting, or on any read or write, after SECONDS (default: 60)' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l pipelining -d 'Send several commands at once: "auto" does so when the server offers PIPELINING' -r -f -a "auto\t'When the server announces PIPELINING'
on\t'Always, even when the server does not announce it'
off\t'Never: one command at a time'"
complete -c popfetch -n "__fish_popfetch_needs_command" -l commit-every -d 'End the session with QUIT, which makes deletions final, after every N deletions, and go on in a new one, so that a dropped connection undoes at most N; 0 (the default): one QUIT per session' -r
complete -c popfetch -n "__fish_popfetch_needs_command" -l log-file -d 'Append a line per delivered message (time, account, UID, size, From, Subject, where it went) and per run to FILE, created 0600 if missing' -r -F
complete -c popfetch -n "__fish_popfetch_needs_command" -s v -l verbose -d 'Say more: -v prints a line per message, -vv also traces the protocol on stderr (passwords and tokens are always redacted)'
complete -c popfetch -n "__fish_popfetch_needs_command" -s q -l quiet -d 'Print errors only; the setting for cron. An overlapping run (another popfetch is fetching the account) exits 75 without a word'
complete -c popfetch -n "__fish_popfetch_needs_command" -l json -d 'Print one JSON object per account on stdout instead of the summary lines (also for accounts and serverinfo; the README documents the fields)'
complete -c popfetch -n "__fish_popfetch_needs_command" -l allow-plaintext -d 'Allow sending the password over a connection without TLS'
complete -c popfetch -n "__fish_popfetch_needs_command" -l keep -d 'Leave messages on the server after delivering them'
complete -c popfetch -n "__fish_popfetch_needs_command" -l no-keep -d 'Delete messages from the server once delivered (the default)'
complete -c popfetch -n "__fish_popfetch_needs_command" -l fetch-all -d 'Fetch every message on the server, even those already delivered'
complete -c popfetch -n "__fish_popfetch_needs_command" -l received-header -d 'Add a Received: trace header to each message (the default)'
complete -c popfetch -n "__fish_popfetch_needs_command" -l no-received-header -d 'Do not add a Received: trace header'
complete -c popfetch -n "__fish_popfetch_needs_command" -l syslog -d 'Send the same lines to the system log, facility mail'
complete -c popfetch -n "__fish_popfetch_needs_command" -l no-syslog -d 'Do not send lines to the system log (the default)'
complete -c popfetch -n "__fish_popfetch_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c popfetch -n "__fish_popfetch_needs_command" -s V -l version -d 'Print version'
complete -c popfetch -n "__fish_popfetch_needs_command" -a "fetch" -d 'Fetch new mail (the default when no subcommand is given)'
complete -c popfetch -n "__fish_popfetch_needs_command" -a "check" -d 'Count new messages and their size; download and delete nothing'
complete -c popfetch -n "__fish_popfetch_needs_command" -a "serverinfo" -d 'Show what a server offers: greeting, TLS details, capabilities, login methods'
complete -c popfetch -n "__fish_popfetch_needs_command" -a "accounts" -d 'Validate the config file and list the accounts it defines (--json: one object each)'
complete -c popfetch -n "__fish_popfetch_needs_command" -a "adopt" -d 'Record every message now on the server as delivered, downloading nothing'
complete -c popfetch -n "__fish_popfetch_needs_command" -a "config" -d 'Help with the config file: `popfetch config example` prints a commented starting one'
complete -c popfetch -n "__fish_popfetch_needs_command" -a "import" -d 'Print the popfetch configuration equivalent to a fetchmail, mpop or getmail one'
complete -c popfetch -n "__fish_popfetch_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -s c -l config -d 'Read accounts from FILE instead of $XDG_CONFIG_HOME/popfetch/config.toml' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l progress -d 'Show progress bars: "auto" shows them only when stderr is a terminal' -r -f -a "auto\t'Only when stderr is a terminal'
always\t'Always, even into a pipe or file'
never\t'Never'"
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -s j -l jobs -d 'Fetch from up to N accounts at the same time' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l state-dir -d 'Keep the record of delivered messages in DIR instead of $XDG_STATE_HOME/popfetch' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l host -d 'The POP3 server\'s host name' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l port -d 'The server\'s port (default: 995 with --tls implicit, 110 otherwise)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l user -d 'The login name on the server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l tls -d 'How to secure the connection (default: implicit)' -r -f -a "implicit\t'TLS from the first byte (POP3S, port 995)'
starttls\t'Plain connection upgraded with STLS; refused if the server does not offer it'
none\t'No encryption; needs --allow-plaintext to send a password'"
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l auth -d 'Which login method to use (default: auto, the strongest the server offers)' -r -f -a "auto\t'The strongest method the server offers'
user\t'USER and PASS'
apop\t'APOP (MD5 challenge)'
plain\t'SASL PLAIN'
login\t'SASL LOGIN'
cram-md5\t'SASL CRAM-MD5'
scram-sha-256\t'SASL SCRAM-SHA-256'
scram-sha-1\t'SASL SCRAM-SHA-1'
xoauth2\t'OAuth 2 token, XOAUTH2 (Google, Microsoft); the password source prints the token'
oauthbearer\t'OAuth 2 token, OAUTHBEARER (RFC 7628); the password source prints the token'"
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l password-command -d 'Run CMD through sh -c and use the first line it prints as the password' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l tls-ca-file -d 'Trust the certificate authorities in FILE (PEM) instead of the system\'s' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l tls-fingerprint -d 'Accept exactly the server certificate with this SHA-256 fingerprint: 32 hex bytes as `popfetch serverinfo`, `openssl x509 -noout -fingerprint -sha256` or mpop print them ("sha256:" prefix and colons optional)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l tls-client-cert -d 'Show the server the client certificate in FILE (PEM); its key comes from --tls-client-key, or from FILE itself when that holds it too' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l tls-client-key -d 'The private key (PEM, not encrypted) of the client certificate' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l proxy -d 'Connect through the SOCKS5 proxy at URL, socks5://HOST:PORT; the proxy resolves the server\'s host name. A proxy that wants a password is set in the config file, since a password on the command line is visible to other users' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l maildir -d 'Deliver into the Maildir DIR (created if missing)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l mbox -d 'Append to the mbox FILE (mboxrd format)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l mda -d 'Pipe each message to CMD, run through sh -c; %F is replaced by the sender (or MAILER-DAEMON when it is not a plausible address) and %T by the account\'s user, both shell-quoted' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l lmtp -d 'Hand each message to the LMTP server at ADDR: unix:/path for a socket, or host:port' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l smtp -d 'Hand each message to the SMTP server at ADDR, host:port (port 25 if left out), normally this machine\'s mail server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l recipient -d 'With --lmtp or --smtp: the envelope recipient (default: the account\'s user)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l delete-after-days -d 'With --keep: delete messages first seen more than N days ago' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l max-size -d 'Leave messages larger than SIZE on the server: bytes, or with a suffix k, M or G (powers of 1024), e.g. 10M' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l max-messages -d 'Fetch at most N messages per run, oldest first' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l timeout -d 'Give up on connecting, or on any read or write, after SECONDS (default: 60)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l pipelining -d 'Send several commands at once: "auto" does so when the server offers PIPELINING' -r -f -a "auto\t'When the server announces PIPELINING'
on\t'Always, even when the server does not announce it'
off\t'Never: one command at a time'"
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l commit-every -d 'End the session with QUIT, which makes deletions final, after every N deletions, and go on in a new one, so that a dropped connection undoes at most N; 0 (the default): one QUIT per session' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l log-file -d 'Append a line per delivered message (time, account, UID, size, From, Subject, where it went) and per run to FILE, created 0600 if missing' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -s v -l verbose -d 'Say more: -v prints a line per message, -vv also traces the protocol on stderr (passwords and tokens are always redacted)'
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -s q -l quiet -d 'Print errors only; the setting for cron. An overlapping run (another popfetch is fetching the account) exits 75 without a word'
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l json -d 'Print one JSON object per account on stdout instead of the summary lines (also for accounts and serverinfo; the README documents the fields)'
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l allow-plaintext -d 'Allow sending the password over a connection without TLS'
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l keep -d 'Leave messages on the server after delivering them'
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l no-keep -d 'Delete messages from the server once delivered (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l fetch-all -d 'Fetch every message on the server, even those already delivered'
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l received-header -d 'Add a Received: trace header to each message (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l no-received-header -d 'Do not add a Received: trace header'
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l syslog -d 'Send the same lines to the system log, facility mail'
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -l no-syslog -d 'Do not send lines to the system log (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand fetch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -s c -l config -d 'Read accounts from FILE instead of $XDG_CONFIG_HOME/popfetch/config.toml' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l progress -d 'Show progress bars: "auto" shows them only when stderr is a terminal' -r -f -a "auto\t'Only when stderr is a terminal'
always\t'Always, even into a pipe or file'
never\t'Never'"
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -s j -l jobs -d 'Fetch from up to N accounts at the same time' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l state-dir -d 'Keep the record of delivered messages in DIR instead of $XDG_STATE_HOME/popfetch' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l host -d 'The POP3 server\'s host name' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l port -d 'The server\'s port (default: 995 with --tls implicit, 110 otherwise)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l user -d 'The login name on the server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l tls -d 'How to secure the connection (default: implicit)' -r -f -a "implicit\t'TLS from the first byte (POP3S, port 995)'
starttls\t'Plain connection upgraded with STLS; refused if the server does not offer it'
none\t'No encryption; needs --allow-plaintext to send a password'"
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l auth -d 'Which login method to use (default: auto, the strongest the server offers)' -r -f -a "auto\t'The strongest method the server offers'
user\t'USER and PASS'
apop\t'APOP (MD5 challenge)'
plain\t'SASL PLAIN'
login\t'SASL LOGIN'
cram-md5\t'SASL CRAM-MD5'
scram-sha-256\t'SASL SCRAM-SHA-256'
scram-sha-1\t'SASL SCRAM-SHA-1'
xoauth2\t'OAuth 2 token, XOAUTH2 (Google, Microsoft); the password source prints the token'
oauthbearer\t'OAuth 2 token, OAUTHBEARER (RFC 7628); the password source prints the token'"
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l password-command -d 'Run CMD through sh -c and use the first line it prints as the password' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l tls-ca-file -d 'Trust the certificate authorities in FILE (PEM) instead of the system\'s' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l tls-fingerprint -d 'Accept exactly the server certificate with this SHA-256 fingerprint: 32 hex bytes as `popfetch serverinfo`, `openssl x509 -noout -fingerprint -sha256` or mpop print them ("sha256:" prefix and colons optional)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l tls-client-cert -d 'Show the server the client certificate in FILE (PEM); its key comes from --tls-client-key, or from FILE itself when that holds it too' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l tls-client-key -d 'The private key (PEM, not encrypted) of the client certificate' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l proxy -d 'Connect through the SOCKS5 proxy at URL, socks5://HOST:PORT; the proxy resolves the server\'s host name. A proxy that wants a password is set in the config file, since a password on the command line is visible to other users' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l maildir -d 'Deliver into the Maildir DIR (created if missing)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l mbox -d 'Append to the mbox FILE (mboxrd format)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l mda -d 'Pipe each message to CMD, run through sh -c; %F is replaced by the sender (or MAILER-DAEMON when it is not a plausible address) and %T by the account\'s user, both shell-quoted' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l lmtp -d 'Hand each message to the LMTP server at ADDR: unix:/path for a socket, or host:port' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l smtp -d 'Hand each message to the SMTP server at ADDR, host:port (port 25 if left out), normally this machine\'s mail server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l recipient -d 'With --lmtp or --smtp: the envelope recipient (default: the account\'s user)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l delete-after-days -d 'With --keep: delete messages first seen more than N days ago' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l max-size -d 'Leave messages larger than SIZE on the server: bytes, or with a suffix k, M or G (powers of 1024), e.g. 10M' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l max-messages -d 'Fetch at most N messages per run, oldest first' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l timeout -d 'Give up on connecting, or on any read or write, after SECONDS (default: 60)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l pipelining -d 'Send several commands at once: "auto" does so when the server offers PIPELINING' -r -f -a "auto\t'When the server announces PIPELINING'
on\t'Always, even when the server does not announce it'
off\t'Never: one command at a time'"
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l commit-every -d 'End the session with QUIT, which makes deletions final, after every N deletions, and go on in a new one, so that a dropped connection undoes at most N; 0 (the default): one QUIT per session' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l log-file -d 'Append a line per delivered message (time, account, UID, size, From, Subject, where it went) and per run to FILE, created 0600 if missing' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -s v -l verbose -d 'Say more: -v prints a line per message, -vv also traces the protocol on stderr (passwords and tokens are always redacted)'
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -s q -l quiet -d 'Print errors only; the setting for cron. An overlapping run (another popfetch is fetching the account) exits 75 without a word'
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l json -d 'Print one JSON object per account on stdout instead of the summary lines (also for accounts and serverinfo; the README documents the fields)'
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l allow-plaintext -d 'Allow sending the password over a connection without TLS'
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l keep -d 'Leave messages on the server after delivering them'
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l no-keep -d 'Delete messages from the server once delivered (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l fetch-all -d 'Fetch every message on the server, even those already delivered'
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l received-header -d 'Add a Received: trace header to each message (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l no-received-header -d 'Do not add a Received: trace header'
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l syslog -d 'Send the same lines to the system log, facility mail'
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -l no-syslog -d 'Do not send lines to the system log (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -s c -l config -d 'Read accounts from FILE instead of $XDG_CONFIG_HOME/popfetch/config.toml' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l progress -d 'Show progress bars: "auto" shows them only when stderr is a terminal' -r -f -a "auto\t'Only when stderr is a terminal'
always\t'Always, even into a pipe or file'
never\t'Never'"
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -s j -l jobs -d 'Fetch from up to N accounts at the same time' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l state-dir -d 'Keep the record of delivered messages in DIR instead of $XDG_STATE_HOME/popfetch' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l host -d 'The POP3 server\'s host name' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l port -d 'The server\'s port (default: 995 with --tls implicit, 110 otherwise)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l user -d 'The login name on the server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l tls -d 'How to secure the connection (default: implicit)' -r -f -a "implicit\t'TLS from the first byte (POP3S, port 995)'
starttls\t'Plain connection upgraded with STLS; refused if the server does not offer it'
none\t'No encryption; needs --allow-plaintext to send a password'"
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l auth -d 'Which login method to use (default: auto, the strongest the server offers)' -r -f -a "auto\t'The strongest method the server offers'
user\t'USER and PASS'
apop\t'APOP (MD5 challenge)'
plain\t'SASL PLAIN'
login\t'SASL LOGIN'
cram-md5\t'SASL CRAM-MD5'
scram-sha-256\t'SASL SCRAM-SHA-256'
scram-sha-1\t'SASL SCRAM-SHA-1'
xoauth2\t'OAuth 2 token, XOAUTH2 (Google, Microsoft); the password source prints the token'
oauthbearer\t'OAuth 2 token, OAUTHBEARER (RFC 7628); the password source prints the token'"
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l password-command -d 'Run CMD through sh -c and use the first line it prints as the password' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l tls-ca-file -d 'Trust the certificate authorities in FILE (PEM) instead of the system\'s' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l tls-fingerprint -d 'Accept exactly the server certificate with this SHA-256 fingerprint: 32 hex bytes as `popfetch serverinfo`, `openssl x509 -noout -fingerprint -sha256` or mpop print them ("sha256:" prefix and colons optional)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l tls-client-cert -d 'Show the server the client certificate in FILE (PEM); its key comes from --tls-client-key, or from FILE itself when that holds it too' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l tls-client-key -d 'The private key (PEM, not encrypted) of the client certificate' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l proxy -d 'Connect through the SOCKS5 proxy at URL, socks5://HOST:PORT; the proxy resolves the server\'s host name. A proxy that wants a password is set in the config file, since a password on the command line is visible to other users' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l maildir -d 'Deliver into the Maildir DIR (created if missing)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l mbox -d 'Append to the mbox FILE (mboxrd format)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l mda -d 'Pipe each message to CMD, run through sh -c; %F is replaced by the sender (or MAILER-DAEMON when it is not a plausible address) and %T by the account\'s user, both shell-quoted' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l lmtp -d 'Hand each message to the LMTP server at ADDR: unix:/path for a socket, or host:port' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l smtp -d 'Hand each message to the SMTP server at ADDR, host:port (port 25 if left out), normally this machine\'s mail server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l recipient -d 'With --lmtp or --smtp: the envelope recipient (default: the account\'s user)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l delete-after-days -d 'With --keep: delete messages first seen more than N days ago' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l max-size -d 'Leave messages larger than SIZE on the server: bytes, or with a suffix k, M or G (powers of 1024), e.g. 10M' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l max-messages -d 'Fetch at most N messages per run, oldest first' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l timeout -d 'Give up on connecting, or on any read or write, after SECONDS (default: 60)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l pipelining -d 'Send several commands at once: "auto" does so when the server offers PIPELINING' -r -f -a "auto\t'When the server announces PIPELINING'
on\t'Always, even when the server does not announce it'
off\t'Never: one command at a time'"
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l commit-every -d 'End the session with QUIT, which makes deletions final, after every N deletions, and go on in a new one, so that a dropped connection undoes at most N; 0 (the default): one QUIT per session' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l log-file -d 'Append a line per delivered message (time, account, UID, size, From, Subject, where it went) and per run to FILE, created 0600 if missing' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -s v -l verbose -d 'Say more: -v prints a line per message, -vv also traces the protocol on stderr (passwords and tokens are always redacted)'
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -s q -l quiet -d 'Print errors only; the setting for cron. An overlapping run (another popfetch is fetching the account) exits 75 without a word'
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l json -d 'Print one JSON object per account on stdout instead of the summary lines (also for accounts and serverinfo; the README documents the fields)'
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l allow-plaintext -d 'Allow sending the password over a connection without TLS'
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l keep -d 'Leave messages on the server after delivering them'
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l no-keep -d 'Delete messages from the server once delivered (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l fetch-all -d 'Fetch every message on the server, even those already delivered'
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l received-header -d 'Add a Received: trace header to each message (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l no-received-header -d 'Do not add a Received: trace header'
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l syslog -d 'Send the same lines to the system log, facility mail'
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -l no-syslog -d 'Do not send lines to the system log (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand serverinfo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -s c -l config -d 'Read accounts from FILE instead of $XDG_CONFIG_HOME/popfetch/config.toml' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l progress -d 'Show progress bars: "auto" shows them only when stderr is a terminal' -r -f -a "auto\t'Only when stderr is a terminal'
always\t'Always, even into a pipe or file'
never\t'Never'"
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -s j -l jobs -d 'Fetch from up to N accounts at the same time' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l state-dir -d 'Keep the record of delivered messages in DIR instead of $XDG_STATE_HOME/popfetch' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l host -d 'The POP3 server\'s host name' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l port -d 'The server\'s port (default: 995 with --tls implicit, 110 otherwise)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l user -d 'The login name on the server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l tls -d 'How to secure the connection (default: implicit)' -r -f -a "implicit\t'TLS from the first byte (POP3S, port 995)'
starttls\t'Plain connection upgraded with STLS; refused if the server does not offer it'
none\t'No encryption; needs --allow-plaintext to send a password'"
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l auth -d 'Which login method to use (default: auto, the strongest the server offers)' -r -f -a "auto\t'The strongest method the server offers'
user\t'USER and PASS'
apop\t'APOP (MD5 challenge)'
plain\t'SASL PLAIN'
login\t'SASL LOGIN'
cram-md5\t'SASL CRAM-MD5'
scram-sha-256\t'SASL SCRAM-SHA-256'
scram-sha-1\t'SASL SCRAM-SHA-1'
xoauth2\t'OAuth 2 token, XOAUTH2 (Google, Microsoft); the password source prints the token'
oauthbearer\t'OAuth 2 token, OAUTHBEARER (RFC 7628); the password source prints the token'"
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l password-command -d 'Run CMD through sh -c and use the first line it prints as the password' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l tls-ca-file -d 'Trust the certificate authorities in FILE (PEM) instead of the system\'s' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l tls-fingerprint -d 'Accept exactly the server certificate with this SHA-256 fingerprint: 32 hex bytes as `popfetch serverinfo`, `openssl x509 -noout -fingerprint -sha256` or mpop print them ("sha256:" prefix and colons optional)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l tls-client-cert -d 'Show the server the client certificate in FILE (PEM); its key comes from --tls-client-key, or from FILE itself when that holds it too' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l tls-client-key -d 'The private key (PEM, not encrypted) of the client certificate' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l proxy -d 'Connect through the SOCKS5 proxy at URL, socks5://HOST:PORT; the proxy resolves the server\'s host name. A proxy that wants a password is set in the config file, since a password on the command line is visible to other users' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l maildir -d 'Deliver into the Maildir DIR (created if missing)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l mbox -d 'Append to the mbox FILE (mboxrd format)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l mda -d 'Pipe each message to CMD, run through sh -c; %F is replaced by the sender (or MAILER-DAEMON when it is not a plausible address) and %T by the account\'s user, both shell-quoted' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l lmtp -d 'Hand each message to the LMTP server at ADDR: unix:/path for a socket, or host:port' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l smtp -d 'Hand each message to the SMTP server at ADDR, host:port (port 25 if left out), normally this machine\'s mail server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l recipient -d 'With --lmtp or --smtp: the envelope recipient (default: the account\'s user)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l delete-after-days -d 'With --keep: delete messages first seen more than N days ago' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l max-size -d 'Leave messages larger than SIZE on the server: bytes, or with a suffix k, M or G (powers of 1024), e.g. 10M' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l max-messages -d 'Fetch at most N messages per run, oldest first' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l timeout -d 'Give up on connecting, or on any read or write, after SECONDS (default: 60)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l pipelining -d 'Send several commands at once: "auto" does so when the server offers PIPELINING' -r -f -a "auto\t'When the server announces PIPELINING'
on\t'Always, even when the server does not announce it'
off\t'Never: one command at a time'"
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l commit-every -d 'End the session with QUIT, which makes deletions final, after every N deletions, and go on in a new one, so that a dropped connection undoes at most N; 0 (the default): one QUIT per session' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l log-file -d 'Append a line per delivered message (time, account, UID, size, From, Subject, where it went) and per run to FILE, created 0600 if missing' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -s v -l verbose -d 'Say more: -v prints a line per message, -vv also traces the protocol on stderr (passwords and tokens are always redacted)'
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -s q -l quiet -d 'Print errors only; the setting for cron. An overlapping run (another popfetch is fetching the account) exits 75 without a word'
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l json -d 'Print one JSON object per account on stdout instead of the summary lines (also for accounts and serverinfo; the README documents the fields)'
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l allow-plaintext -d 'Allow sending the password over a connection without TLS'
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l keep -d 'Leave messages on the server after delivering them'
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l no-keep -d 'Delete messages from the server once delivered (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l fetch-all -d 'Fetch every message on the server, even those already delivered'
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l received-header -d 'Add a Received: trace header to each message (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l no-received-header -d 'Do not add a Received: trace header'
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l syslog -d 'Send the same lines to the system log, facility mail'
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -l no-syslog -d 'Do not send lines to the system log (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand accounts" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -s c -l config -d 'Read accounts from FILE instead of $XDG_CONFIG_HOME/popfetch/config.toml' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l progress -d 'Show progress bars: "auto" shows them only when stderr is a terminal' -r -f -a "auto\t'Only when stderr is a terminal'
always\t'Always, even into a pipe or file'
never\t'Never'"
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -s j -l jobs -d 'Fetch from up to N accounts at the same time' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l state-dir -d 'Keep the record of delivered messages in DIR instead of $XDG_STATE_HOME/popfetch' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l host -d 'The POP3 server\'s host name' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l port -d 'The server\'s port (default: 995 with --tls implicit, 110 otherwise)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l user -d 'The login name on the server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l tls -d 'How to secure the connection (default: implicit)' -r -f -a "implicit\t'TLS from the first byte (POP3S, port 995)'
starttls\t'Plain connection upgraded with STLS; refused if the server does not offer it'
none\t'No encryption; needs --allow-plaintext to send a password'"
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l auth -d 'Which login method to use (default: auto, the strongest the server offers)' -r -f -a "auto\t'The strongest method the server offers'
user\t'USER and PASS'
apop\t'APOP (MD5 challenge)'
plain\t'SASL PLAIN'
login\t'SASL LOGIN'
cram-md5\t'SASL CRAM-MD5'
scram-sha-256\t'SASL SCRAM-SHA-256'
scram-sha-1\t'SASL SCRAM-SHA-1'
xoauth2\t'OAuth 2 token, XOAUTH2 (Google, Microsoft); the password source prints the token'
oauthbearer\t'OAuth 2 token, OAUTHBEARER (RFC 7628); the password source prints the token'"
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l password-command -d 'Run CMD through sh -c and use the first line it prints as the password' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l tls-ca-file -d 'Trust the certificate authorities in FILE (PEM) instead of the system\'s' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l tls-fingerprint -d 'Accept exactly the server certificate with this SHA-256 fingerprint: 32 hex bytes as `popfetch serverinfo`, `openssl x509 -noout -fingerprint -sha256` or mpop print them ("sha256:" prefix and colons optional)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l tls-client-cert -d 'Show the server the client certificate in FILE (PEM); its key comes from --tls-client-key, or from FILE itself when that holds it too' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l tls-client-key -d 'The private key (PEM, not encrypted) of the client certificate' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l proxy -d 'Connect through the SOCKS5 proxy at URL, socks5://HOST:PORT; the proxy resolves the server\'s host name. A proxy that wants a password is set in the config file, since a password on the command line is visible to other users' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l maildir -d 'Deliver into the Maildir DIR (created if missing)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l mbox -d 'Append to the mbox FILE (mboxrd format)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l mda -d 'Pipe each message to CMD, run through sh -c; %F is replaced by the sender (or MAILER-DAEMON when it is not a plausible address) and %T by the account\'s user, both shell-quoted' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l lmtp -d 'Hand each message to the LMTP server at ADDR: unix:/path for a socket, or host:port' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l smtp -d 'Hand each message to the SMTP server at ADDR, host:port (port 25 if left out), normally this machine\'s mail server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l recipient -d 'With --lmtp or --smtp: the envelope recipient (default: the account\'s user)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l delete-after-days -d 'With --keep: delete messages first seen more than N days ago' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l max-size -d 'Leave messages larger than SIZE on the server: bytes, or with a suffix k, M or G (powers of 1024), e.g. 10M' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l max-messages -d 'Fetch at most N messages per run, oldest first' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l timeout -d 'Give up on connecting, or on any read or write, after SECONDS (default: 60)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l pipelining -d 'Send several commands at once: "auto" does so when the server offers PIPELINING' -r -f -a "auto\t'When the server announces PIPELINING'
on\t'Always, even when the server does not announce it'
off\t'Never: one command at a time'"
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l commit-every -d 'End the session with QUIT, which makes deletions final, after every N deletions, and go on in a new one, so that a dropped connection undoes at most N; 0 (the default): one QUIT per session' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l log-file -d 'Append a line per delivered message (time, account, UID, size, From, Subject, where it went) and per run to FILE, created 0600 if missing' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -s v -l verbose -d 'Say more: -v prints a line per message, -vv also traces the protocol on stderr (passwords and tokens are always redacted)'
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -s q -l quiet -d 'Print errors only; the setting for cron. An overlapping run (another popfetch is fetching the account) exits 75 without a word'
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l json -d 'Print one JSON object per account on stdout instead of the summary lines (also for accounts and serverinfo; the README documents the fields)'
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l allow-plaintext -d 'Allow sending the password over a connection without TLS'
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l keep -d 'Leave messages on the server after delivering them'
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l no-keep -d 'Delete messages from the server once delivered (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l fetch-all -d 'Fetch every message on the server, even those already delivered'
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l received-header -d 'Add a Received: trace header to each message (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l no-received-header -d 'Do not add a Received: trace header'
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l syslog -d 'Send the same lines to the system log, facility mail'
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -l no-syslog -d 'Do not send lines to the system log (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand adopt" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -s c -l config -d 'Read accounts from FILE instead of $XDG_CONFIG_HOME/popfetch/config.toml' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l progress -d 'Show progress bars: "auto" shows them only when stderr is a terminal' -r -f -a "auto\t'Only when stderr is a terminal'
always\t'Always, even into a pipe or file'
never\t'Never'"
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -s j -l jobs -d 'Fetch from up to N accounts at the same time' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l state-dir -d 'Keep the record of delivered messages in DIR instead of $XDG_STATE_HOME/popfetch' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l host -d 'The POP3 server\'s host name' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l port -d 'The server\'s port (default: 995 with --tls implicit, 110 otherwise)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l user -d 'The login name on the server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l tls -d 'How to secure the connection (default: implicit)' -r -f -a "implicit\t'TLS from the first byte (POP3S, port 995)'
starttls\t'Plain connection upgraded with STLS; refused if the server does not offer it'
none\t'No encryption; needs --allow-plaintext to send a password'"
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l auth -d 'Which login method to use (default: auto, the strongest the server offers)' -r -f -a "auto\t'The strongest method the server offers'
user\t'USER and PASS'
apop\t'APOP (MD5 challenge)'
plain\t'SASL PLAIN'
login\t'SASL LOGIN'
cram-md5\t'SASL CRAM-MD5'
scram-sha-256\t'SASL SCRAM-SHA-256'
scram-sha-1\t'SASL SCRAM-SHA-1'
xoauth2\t'OAuth 2 token, XOAUTH2 (Google, Microsoft); the password source prints the token'
oauthbearer\t'OAuth 2 token, OAUTHBEARER (RFC 7628); the password source prints the token'"
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l password-command -d 'Run CMD through sh -c and use the first line it prints as the password' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l tls-ca-file -d 'Trust the certificate authorities in FILE (PEM) instead of the system\'s' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l tls-fingerprint -d 'Accept exactly the server certificate with this SHA-256 fingerprint: 32 hex bytes as `popfetch serverinfo`, `openssl x509 -noout -fingerprint -sha256` or mpop print them ("sha256:" prefix and colons optional)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l tls-client-cert -d 'Show the server the client certificate in FILE (PEM); its key comes from --tls-client-key, or from FILE itself when that holds it too' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l tls-client-key -d 'The private key (PEM, not encrypted) of the client certificate' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l proxy -d 'Connect through the SOCKS5 proxy at URL, socks5://HOST:PORT; the proxy resolves the server\'s host name. A proxy that wants a password is set in the config file, since a password on the command line is visible to other users' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l maildir -d 'Deliver into the Maildir DIR (created if missing)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l mbox -d 'Append to the mbox FILE (mboxrd format)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l mda -d 'Pipe each message to CMD, run through sh -c; %F is replaced by the sender (or MAILER-DAEMON when it is not a plausible address) and %T by the account\'s user, both shell-quoted' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l lmtp -d 'Hand each message to the LMTP server at ADDR: unix:/path for a socket, or host:port' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l smtp -d 'Hand each message to the SMTP server at ADDR, host:port (port 25 if left out), normally this machine\'s mail server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l recipient -d 'With --lmtp or --smtp: the envelope recipient (default: the account\'s user)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l delete-after-days -d 'With --keep: delete messages first seen more than N days ago' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l max-size -d 'Leave messages larger than SIZE on the server: bytes, or with a suffix k, M or G (powers of 1024), e.g. 10M' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l max-messages -d 'Fetch at most N messages per run, oldest first' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l timeout -d 'Give up on connecting, or on any read or write, after SECONDS (default: 60)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l pipelining -d 'Send several commands at once: "auto" does so when the server offers PIPELINING' -r -f -a "auto\t'When the server announces PIPELINING'
on\t'Always, even when the server does not announce it'
off\t'Never: one command at a time'"
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l commit-every -d 'End the session with QUIT, which makes deletions final, after every N deletions, and go on in a new one, so that a dropped connection undoes at most N; 0 (the default): one QUIT per session' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l log-file -d 'Append a line per delivered message (time, account, UID, size, From, Subject, where it went) and per run to FILE, created 0600 if missing' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -s v -l verbose -d 'Say more: -v prints a line per message, -vv also traces the protocol on stderr (passwords and tokens are always redacted)'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -s q -l quiet -d 'Print errors only; the setting for cron. An overlapping run (another popfetch is fetching the account) exits 75 without a word'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l json -d 'Print one JSON object per account on stdout instead of the summary lines (also for accounts and serverinfo; the README documents the fields)'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l allow-plaintext -d 'Allow sending the password over a connection without TLS'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l keep -d 'Leave messages on the server after delivering them'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l no-keep -d 'Delete messages from the server once delivered (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l fetch-all -d 'Fetch every message on the server, even those already delivered'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l received-header -d 'Add a Received: trace header to each message (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l no-received-header -d 'Do not add a Received: trace header'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l syslog -d 'Send the same lines to the system log, facility mail'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -l no-syslog -d 'Do not send lines to the system log (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -f -a "example" -d 'Print a commented config.toml to start from, with one account to fill in'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and not __fish_seen_subcommand_from example help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -s c -l config -d 'Read accounts from FILE instead of $XDG_CONFIG_HOME/popfetch/config.toml' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l progress -d 'Show progress bars: "auto" shows them only when stderr is a terminal' -r -f -a "auto\t'Only when stderr is a terminal'
always\t'Always, even into a pipe or file'
never\t'Never'"
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -s j -l jobs -d 'Fetch from up to N accounts at the same time' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l state-dir -d 'Keep the record of delivered messages in DIR instead of $XDG_STATE_HOME/popfetch' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l host -d 'The POP3 server\'s host name' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l port -d 'The server\'s port (default: 995 with --tls implicit, 110 otherwise)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l user -d 'The login name on the server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l tls -d 'How to secure the connection (default: implicit)' -r -f -a "implicit\t'TLS from the first byte (POP3S, port 995)'
starttls\t'Plain connection upgraded with STLS; refused if the server does not offer it'
none\t'No encryption; needs --allow-plaintext to send a password'"
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l auth -d 'Which login method to use (default: auto, the strongest the server offers)' -r -f -a "auto\t'The strongest method the server offers'
user\t'USER and PASS'
apop\t'APOP (MD5 challenge)'
plain\t'SASL PLAIN'
login\t'SASL LOGIN'
cram-md5\t'SASL CRAM-MD5'
scram-sha-256\t'SASL SCRAM-SHA-256'
scram-sha-1\t'SASL SCRAM-SHA-1'
xoauth2\t'OAuth 2 token, XOAUTH2 (Google, Microsoft); the password source prints the token'
oauthbearer\t'OAuth 2 token, OAUTHBEARER (RFC 7628); the password source prints the token'"
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l password-command -d 'Run CMD through sh -c and use the first line it prints as the password' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l tls-ca-file -d 'Trust the certificate authorities in FILE (PEM) instead of the system\'s' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l tls-fingerprint -d 'Accept exactly the server certificate with this SHA-256 fingerprint: 32 hex bytes as `popfetch serverinfo`, `openssl x509 -noout -fingerprint -sha256` or mpop print them ("sha256:" prefix and colons optional)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l tls-client-cert -d 'Show the server the client certificate in FILE (PEM); its key comes from --tls-client-key, or from FILE itself when that holds it too' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l tls-client-key -d 'The private key (PEM, not encrypted) of the client certificate' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l proxy -d 'Connect through the SOCKS5 proxy at URL, socks5://HOST:PORT; the proxy resolves the server\'s host name. A proxy that wants a password is set in the config file, since a password on the command line is visible to other users' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l maildir -d 'Deliver into the Maildir DIR (created if missing)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l mbox -d 'Append to the mbox FILE (mboxrd format)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l mda -d 'Pipe each message to CMD, run through sh -c; %F is replaced by the sender (or MAILER-DAEMON when it is not a plausible address) and %T by the account\'s user, both shell-quoted' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l lmtp -d 'Hand each message to the LMTP server at ADDR: unix:/path for a socket, or host:port' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l smtp -d 'Hand each message to the SMTP server at ADDR, host:port (port 25 if left out), normally this machine\'s mail server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l recipient -d 'With --lmtp or --smtp: the envelope recipient (default: the account\'s user)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l delete-after-days -d 'With --keep: delete messages first seen more than N days ago' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l max-size -d 'Leave messages larger than SIZE on the server: bytes, or with a suffix k, M or G (powers of 1024), e.g. 10M' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l max-messages -d 'Fetch at most N messages per run, oldest first' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l timeout -d 'Give up on connecting, or on any read or write, after SECONDS (default: 60)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l pipelining -d 'Send several commands at once: "auto" does so when the server offers PIPELINING' -r -f -a "auto\t'When the server announces PIPELINING'
on\t'Always, even when the server does not announce it'
off\t'Never: one command at a time'"
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l commit-every -d 'End the session with QUIT, which makes deletions final, after every N deletions, and go on in a new one, so that a dropped connection undoes at most N; 0 (the default): one QUIT per session' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l log-file -d 'Append a line per delivered message (time, account, UID, size, From, Subject, where it went) and per run to FILE, created 0600 if missing' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -s v -l verbose -d 'Say more: -v prints a line per message, -vv also traces the protocol on stderr (passwords and tokens are always redacted)'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -s q -l quiet -d 'Print errors only; the setting for cron. An overlapping run (another popfetch is fetching the account) exits 75 without a word'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l json -d 'Print one JSON object per account on stdout instead of the summary lines (also for accounts and serverinfo; the README documents the fields)'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l allow-plaintext -d 'Allow sending the password over a connection without TLS'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l keep -d 'Leave messages on the server after delivering them'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l no-keep -d 'Delete messages from the server once delivered (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l fetch-all -d 'Fetch every message on the server, even those already delivered'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l received-header -d 'Add a Received: trace header to each message (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l no-received-header -d 'Do not add a Received: trace header'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l syslog -d 'Send the same lines to the system log, facility mail'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -l no-syslog -d 'Do not send lines to the system log (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from example" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "example" -d 'Print a commented config.toml to start from, with one account to fill in'
complete -c popfetch -n "__fish_popfetch_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -s c -l config -d 'Read accounts from FILE instead of $XDG_CONFIG_HOME/popfetch/config.toml' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l progress -d 'Show progress bars: "auto" shows them only when stderr is a terminal' -r -f -a "auto\t'Only when stderr is a terminal'
always\t'Always, even into a pipe or file'
never\t'Never'"
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -s j -l jobs -d 'Fetch from up to N accounts at the same time' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l state-dir -d 'Keep the record of delivered messages in DIR instead of $XDG_STATE_HOME/popfetch' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l host -d 'The POP3 server\'s host name' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l port -d 'The server\'s port (default: 995 with --tls implicit, 110 otherwise)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l user -d 'The login name on the server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l tls -d 'How to secure the connection (default: implicit)' -r -f -a "implicit\t'TLS from the first byte (POP3S, port 995)'
starttls\t'Plain connection upgraded with STLS; refused if the server does not offer it'
none\t'No encryption; needs --allow-plaintext to send a password'"
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l auth -d 'Which login method to use (default: auto, the strongest the server offers)' -r -f -a "auto\t'The strongest method the server offers'
user\t'USER and PASS'
apop\t'APOP (MD5 challenge)'
plain\t'SASL PLAIN'
login\t'SASL LOGIN'
cram-md5\t'SASL CRAM-MD5'
scram-sha-256\t'SASL SCRAM-SHA-256'
scram-sha-1\t'SASL SCRAM-SHA-1'
xoauth2\t'OAuth 2 token, XOAUTH2 (Google, Microsoft); the password source prints the token'
oauthbearer\t'OAuth 2 token, OAUTHBEARER (RFC 7628); the password source prints the token'"
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l password-command -d 'Run CMD through sh -c and use the first line it prints as the password' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l tls-ca-file -d 'Trust the certificate authorities in FILE (PEM) instead of the system\'s' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l tls-fingerprint -d 'Accept exactly the server certificate with this SHA-256 fingerprint: 32 hex bytes as `popfetch serverinfo`, `openssl x509 -noout -fingerprint -sha256` or mpop print them ("sha256:" prefix and colons optional)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l tls-client-cert -d 'Show the server the client certificate in FILE (PEM); its key comes from --tls-client-key, or from FILE itself when that holds it too' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l tls-client-key -d 'The private key (PEM, not encrypted) of the client certificate' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l proxy -d 'Connect through the SOCKS5 proxy at URL, socks5://HOST:PORT; the proxy resolves the server\'s host name. A proxy that wants a password is set in the config file, since a password on the command line is visible to other users' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l maildir -d 'Deliver into the Maildir DIR (created if missing)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l mbox -d 'Append to the mbox FILE (mboxrd format)' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l mda -d 'Pipe each message to CMD, run through sh -c; %F is replaced by the sender (or MAILER-DAEMON when it is not a plausible address) and %T by the account\'s user, both shell-quoted' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l lmtp -d 'Hand each message to the LMTP server at ADDR: unix:/path for a socket, or host:port' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l smtp -d 'Hand each message to the SMTP server at ADDR, host:port (port 25 if left out), normally this machine\'s mail server' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l recipient -d 'With --lmtp or --smtp: the envelope recipient (default: the account\'s user)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l delete-after-days -d 'With --keep: delete messages first seen more than N days ago' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l max-size -d 'Leave messages larger than SIZE on the server: bytes, or with a suffix k, M or G (powers of 1024), e.g. 10M' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l max-messages -d 'Fetch at most N messages per run, oldest first' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l timeout -d 'Give up on connecting, or on any read or write, after SECONDS (default: 60)' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l pipelining -d 'Send several commands at once: "auto" does so when the server offers PIPELINING' -r -f -a "auto\t'When the server announces PIPELINING'
on\t'Always, even when the server does not announce it'
off\t'Never: one command at a time'"
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l commit-every -d 'End the session with QUIT, which makes deletions final, after every N deletions, and go on in a new one, so that a dropped connection undoes at most N; 0 (the default): one QUIT per session' -r
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l log-file -d 'Append a line per delivered message (time, account, UID, size, From, Subject, where it went) and per run to FILE, created 0600 if missing' -r -F
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l state -d 'Also record what the program already fetched (~/.fetchids, mpop\'s UIDLS files, getmail\'s oldmail files) as delivered in popfetch\'s state'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -s v -l verbose -d 'Say more: -v prints a line per message, -vv also traces the protocol on stderr (passwords and tokens are always redacted)'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -s q -l quiet -d 'Print errors only; the setting for cron. An overlapping run (another popfetch is fetching the account) exits 75 without a word'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l json -d 'Print one JSON object per account on stdout instead of the summary lines (also for accounts and serverinfo; the README documents the fields)'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l allow-plaintext -d 'Allow sending the password over a connection without TLS'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l keep -d 'Leave messages on the server after delivering them'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l no-keep -d 'Delete messages from the server once delivered (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l fetch-all -d 'Fetch every message on the server, even those already delivered'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l received-header -d 'Add a Received: trace header to each message (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l no-received-header -d 'Do not add a Received: trace header'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l syslog -d 'Send the same lines to the system log, facility mail'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -l no-syslog -d 'Do not send lines to the system log (the default)'
complete -c popfetch -n "__fish_popfetch_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c popfetch -n "__fish_popfetch_using_subcommand help; and not __fish_seen_subcommand_from fetch check serverinfo accounts adopt config import help" -f -a "fetch" -d 'Fetch new mail (the default when no subcommand is given)'
complete -c popfetch -n "__fish_popfetch_using_subcommand help; and not __fish_seen_subcommand_from fetch check serverinfo accounts adopt config import help" -f -a "check" -d 'Count new messages and their size; download and delete nothing'
complete -c popfetch -n "__fish_popfetch_using_subcommand help; and not __fish_seen_subcommand_from fetch check serverinfo accounts adopt config import help" -f -a "serverinfo" -d 'Show what a server offers: greeting, TLS details, capabilities, login methods'
complete -c popfetch -n "__fish_popfetch_using_subcommand help; and not __fish_seen_subcommand_from fetch check serverinfo accounts adopt config import help" -f -a "accounts" -d 'Validate the config file and list the accounts it defines (--json: one object each)'
complete -c popfetch -n "__fish_popfetch_using_subcommand help; and not __fish_seen_subcommand_from fetch check serverinfo accounts adopt config import help" -f -a "adopt" -d 'Record every message now on the server as delivered, downloading nothing'
complete -c popfetch -n "__fish_popfetch_using_subcommand help; and not __fish_seen_subcommand_from fetch check serverinfo accounts adopt config import help" -f -a "config" -d 'Help with the config file: `popfetch config example` prints a commented starting one'
complete -c popfetch -n "__fish_popfetch_using_subcommand help; and not __fish_seen_subcommand_from fetch check serverinfo accounts adopt config import help" -f -a "import" -d 'Print the popfetch configuration equivalent to a fetchmail, mpop or getmail one'
complete -c popfetch -n "__fish_popfetch_using_subcommand help; and not __fish_seen_subcommand_from fetch check serverinfo accounts adopt config import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c popfetch -n "__fish_popfetch_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "example" -d 'Print a commented config.toml to start from, with one account to fill in'
