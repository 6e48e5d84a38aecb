#pragma once

// The iptv-payload commands, as a library so that tests run the same code as the CLI.
//
//   iptv-payload keygen  -o NAME                      -> NAME.key (0600) + NAME.pub
//   iptv-payload build   DIR --version V --channel clean|experimental --min-box-version V
//                        --key NAME.key -o OUT.bundle [--notes TEXT] [--created T] [--level N]
//   iptv-payload verify  OUT.bundle --trust NAME.pub [--trust ...]
//   iptv-payload inspect OUT.bundle [--trust NAME.pub ...] [--json]
//   iptv-payload unpack  OUT.bundle --trust NAME.pub -o DIR

#include <QStringList>
#include <QTextStream>

namespace iptv::payloadtool {

enum ExitCode : int {
    ExitOk = 0,
    ExitError = 1,    ///< the work failed: unreadable input, unwritable output, ...
    ExitUsage = 2,    ///< the command line was wrong
    ExitRejected = 3, ///< the bundle was refused (bad signature, tampered, hostile, over a limit)
};

/// Runs one command line (arguments[0] is the program name). Results go to `out`, errors and
/// progress to `err`.
int run(const QStringList &arguments, QTextStream &out, QTextStream &err);

int keygen(const QStringList &arguments, QTextStream &out, QTextStream &err);
int build(const QStringList &arguments, QTextStream &out, QTextStream &err);
int verify(const QStringList &arguments, QTextStream &out, QTextStream &err);
int inspect(const QStringList &arguments, QTextStream &out, QTextStream &err);
int unpack(const QStringList &arguments, QTextStream &out, QTextStream &err);

} // namespace iptv::payloadtool
