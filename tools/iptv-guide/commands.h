#pragma once

// The iptv-guide commands, as a library so that tests and benchmarks run the same code as the CLI.
//
//   iptv-guide compile  IN.xml[.gz|.xz] [IN2 ...] -o OUT.guide [--lineup L.m3u] [--from T] [--days N] ...
//   iptv-guide inspect  OUT.guide [--json] [--channels]
//   iptv-guide search   OUT.guide "query" [--channel ID] [--category C] [--new] [--limit N] [--at T]
//   iptv-guide export   OUT.guide -o BACK.xml[.gz|.xz]
//   iptv-guide generate --channels N --days D [--start T] [--seed S] -o LINEUP.xml[.gz|.xz]

#include <QStringList>
#include <QTextStream>

namespace iptv::guidetool {

enum ExitCode : int {
    ExitOk = 0,
    ExitError = 1, ///< the work failed: unreadable input, unwritable output, ...
    ExitUsage = 2, ///< the command line was wrong
    /// compile: the input had errors (entries skipped as unreadable); nothing was written unless
    /// --allow-errors. A script's "compile && deploy" never ships a guide with data missing.
    ExitInputErrors = 3,
    /// compile: an input ended early (truncated, undecodable, an I/O error), so the guide would
    /// hold only part of it; nothing was written unless --allow-partial.
    ExitIncompleteInput = 4,
};

/// Runs one command line (arguments[0] is the program name). Results go to `out`, diagnostics,
/// progress and errors to `err` (the progress bar itself draws on stderr unless `quiet`).
int run(const QStringList &arguments, QTextStream &out, QTextStream &err);

int compile(const QStringList &arguments, QTextStream &out, QTextStream &err);
int inspect(const QStringList &arguments, QTextStream &out, QTextStream &err);
int search(const QStringList &arguments, QTextStream &out, QTextStream &err);
int exportXmltv(const QStringList &arguments, QTextStream &out, QTextStream &err);
int generate(const QStringList &arguments, QTextStream &out, QTextStream &err);

/// "2026-01-05T06:00:00Z", "2026-01-05T06:00" (in `zoneId`, UTC when empty) or epoch seconds.
bool parseTime(const QString &text, const QString &zoneId, qint64 *utcSeconds, QString *error);

} // namespace iptv::guidetool
