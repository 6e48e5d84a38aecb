#pragma once

// The refresh pipeline, run off the main thread: read each fetched source, replace its stored
// data (only when the read was good), then compile the guide from everything stored. Plain
// functions over plain data, so tests drive them directly and the server runs them with
// QtConcurrent; each run opens its own database connection.

#include "store.h"

#include <core/diagnostic.h>
#include <epg/guide.h>
#include <epg/guidewriter.h>

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QSet>
#include <QString>
#include <QStringList>
#include <QTimeZone>

#include <atomic>
#include <memory>
#include <optional>

namespace iptv::next {

inline constexpr QLatin1String KindXmltv("xmltv");
inline constexpr QLatin1String KindM3u("m3u");

/// A source as the main thread hands it over: a local file to read, or downloaded bytes.
struct FetchedSource
{
    QString key;          ///< as configured (path or URL)
    QString kind;         ///< KindXmltv or KindM3u
    QString localPath;    ///< read from here when set
    QByteArray bytes;     ///< else these (an HTTP body)
    QString fetchError;   ///< set when the download failed; the source is then a failure
    qint64 fetchMs = 0;
    bool notModified = false; ///< HTTP 304 to a conditional GET: the stored data is current
    QByteArray etag;          ///< validators of the download, for the next conditional GET
    QByteArray lastModified;
};

/// Programmes and the channels they are on, counted in the guide window.
struct WindowCounts
{
    qint64 programmes = 0;
    qint64 channels = 0;
};

struct SourceOutcome
{
    QString key;
    QString kind;
    bool ok = false;
    bool notModified = false;  ///< unchanged upstream; nothing was read or stored
    /// Read whole, but much smaller in the window than the last good data (JobSettings::shrinkGuard):
    /// not stored until an operator accepts it or the source recovers. ok is false.
    bool held = false;
    bool incomplete = false;   ///< the read ended early (fatal error): nothing stored
    QString error;
    WindowCounts window;       ///< of this read (XMLTV sources)
    std::optional<WindowCounts> baseline; ///< of the stored data, when the shrink guard compared
    qint64 channels = 0;
    qint64 programmes = 0;
    qint64 durationMs = 0;
    QList<iptv::Diagnostic> diagnostics; ///< capped
    qsizetype errorCount = 0;
    qsizetype warningCount = 0;
    QJsonObject toJson() const;
};

struct CompileOutcome
{
    bool attempted = false;
    bool ok = false;
    bool unchanged = false;     ///< same checksum as the current guide: no new version
    QString error;
    GuideVersion version;       ///< the current version after this compile
    iptv::epg::GuideCompileStats stats;
    qint64 durationMs = 0;
    qint64 droppedNotInLineup = 0; ///< programmes of guide channels the lineup does not carry
    qint64 lineupEntries = 0;
    qint64 lineupMapped = 0;
    QStringList guideChannelsNotInLineup;
    QList<iptv::Diagnostic> diagnostics; ///< capped
    qsizetype errorCount = 0;
    qsizetype warningCount = 0;
    QList<GuideVersion> removed;   ///< versions pruned from disk and store
    std::shared_ptr<const iptv::epg::Guide> guide; ///< opened, ready to serve
    QByteArray fileBytes;
    QJsonObject toJson() const;
};

struct RefreshReport
{
    QString trigger;            ///< "start", "schedule", "api", "signal", "recompile"
    qint64 started = 0;         ///< UTC s
    qint64 finished = 0;
    qint64 durationMs = 0;
    bool aborted = false;
    QList<SourceOutcome> sources;
    CompileOutcome compile;
    /// Every source read (or unchanged) and, when one changed, the guide compiled.
    bool ok() const;
    /// A new or unchanged guide came out of it (some sources may have failed).
    bool guideAvailable() const { return compile.ok; }
    QJsonObject toJson() const;
};

struct JobSettings
{
    QString database;
    QString guidesDir;
    QStringList xmltv;          ///< source keys in priority order (first declaration of a channel wins)
    QString lineup;             ///< lineup key, empty = none
    int days = 14;
    qint64 from = 0;            ///< 0 = start of the UTC day of `now`
    qint64 now = 0;
    QTimeZone zone = QTimeZone::utc();
    int keep = 5;
    int compressionLevel = 19;
    QString generator;
    std::shared_ptr<std::atomic_bool> abort; ///< may be null
    /// A complete read of a source with fewer programmes or channels in the window than this
    /// share of its stored data's (counted in the same window) is held back; 0 turns it off.
    double shrinkGuard = 0.5;
    /// Sources whose next read is stored however much it shrank (an operator accepted it).
    QSet<QString> acceptShrink;
};

/// Reads the fetched sources into the store, then compiles when any source was updated (or when
/// `forceCompile`, e.g. the window moved on to a new day). Never throws; every failure is in the report.
RefreshReport runRefresh(const JobSettings &settings, const QList<FetchedSource> &sources, bool forceCompile = false);

/// Compiles the guide from the stored sources (e.g. at start when the guide file is missing).
RefreshReport runRecompile(const JobSettings &settings);

/// Compiles from an open store; writes <guidesDir>/<checksum>.guide, records it, prunes old ones.
CompileOutcome compileFromStore(GuideStore &store, const JobSettings &settings);

/// Start of the UTC day containing t.
qint64 startOfUtcDay(qint64 t);

/// The guide window [first, second) a job compiles: from `from`, or the start of today, for `days`.
std::pair<qint64, qint64> guideWindow(const JobSettings &settings);

QJsonObject diagnosticToJson(const iptv::Diagnostic &d);

} // namespace iptv::next
