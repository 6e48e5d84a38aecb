#include "refresh.h"

#include <epg/channelmapper.h>
#include <epg/m3ureader.h>
#include <epg/xmltvreader.h>

#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QSaveFile>
#include <QSet>

Q_LOGGING_CATEGORY(lcRefresh, "iptv.next.refresh")

namespace iptv::next {

using namespace iptv::epg;

namespace {

// Diagnostics kept per source in the report and the store: enough to find the problem, small
// enough for /api/status.
constexpr qsizetype ReportDiagnostics = 50;

bool aborted(const JobSettings &s)
{
    return s.abort && s.abort->load();
}

void takeDiagnostics(const DiagnosticList &list, QList<Diagnostic> *out, qsizetype *errors, qsizetype *warnings)
{
    *out = list.items().mid(0, ReportDiagnostics);
    *errors = list.errorCount();
    *warnings = list.warningCount();
}

QJsonArray diagnosticsJson(const QList<Diagnostic> &list)
{
    QJsonArray a;
    for (const Diagnostic &d : list)
        a.append(diagnosticToJson(d));
    return a;
}

QByteArray compactJson(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

SourceOutcome readXmltv(GuideStore &store, const JobSettings &settings, const FetchedSource &src)
{
    SourceOutcome out;
    out.key = src.key;
    out.kind = src.kind;
    QElapsedTimer clock;
    clock.start();
    DiagnosticList diags(ReportDiagnostics * 4);

    // The stored data's size in this window, taken before the writer replaces it: the yardstick
    // of the shrink guard. A source never read has nothing to compare with.
    const auto [windowFrom, windowUntil] = guideWindow(settings);
    if (settings.shrinkGuard > 0 && !settings.acceptShrink.contains(src.key)) {
        const auto record = store.source(src.key);
        WindowCounts stored;
        QString error;
        if (record && record->lastSuccess > 0
            && store.countInWindow(src.key, windowFrom, windowUntil, &stored.programmes, &stored.channels, &error))
            out.baseline = stored;
        else if (!error.isEmpty())
            qCWarning(lcRefresh) << "source" << src.key << ": cannot count its stored data, shrink guard skipped:" << error;
    }
    QSet<QString> windowChannels;

    auto writer = store.beginReplace(src.key, src.kind);
    if (!writer->isActive()) {
        out.error = writer->error();
        return out;
    }
    bool storeOk = true;
    // Sinks run inside the parser; once the store fails or a stop is requested they only count.
    auto channelSink = [&](Channel &&c) {
        if (storeOk && !aborted(settings))
            storeOk = writer->addChannel(c);
    };
    auto programmeSink = [&](Programme &&p) {
        if (p.start < windowUntil && (p.stop > windowFrom || (p.stop == 0 && p.start >= windowFrom))) {
            ++out.window.programmes;
            windowChannels.insert(p.channelId);
        }
        if (storeOk && !aborted(settings))
            storeOk = writer->addProgramme(p);
    };
    XmltvReadOptions options;
    options.sourceName = src.key;
    options.defaultZone = settings.zone;
    // A stop request ends the read at the next programme instead of at the end of the file.
    if (settings.abort)
        options.cancelled = [abort = settings.abort] { return abort->load(); };
    const bool readOk = src.localPath.isEmpty()
        ? XmltvReader::readBytes(src.bytes, channelSink, programmeSink, &diags, options)
        : XmltvReader::readFile(src.localPath, channelSink, programmeSink, &diags, options);

    out.channels = writer->channelCount();
    out.programmes = writer->programmeCount();
    out.window.channels = windowChannels.size();
    takeDiagnostics(diags, &out.diagnostics, &out.errorCount, &out.warningCount);
    const auto shrank = [&](qint64 now, qint64 before) {
        return double(now) < settings.shrinkGuard * double(before);
    };
    if (aborted(settings)) {
        out.error = QStringLiteral("refresh aborted");
    } else if (!storeOk) {
        out.error = QStringLiteral("store: %1").arg(writer->error());
    } else if (!readOk || diags.hasFatal()) {
        // Part of a file is not a smaller guide: it would cut the boxes' guide short.
        out.incomplete = readOk;
        const Diagnostic *fatal = diags.firstFatal();
        const QString why = fatal ? fatal->toString() : QStringLiteral("could not be read");
        out.error = readOk ? QStringLiteral("incomplete read, nothing stored: %1").arg(why)
                           : QStringLiteral("unreadable: %1").arg(why);
    } else if (out.programmes == 0) {
        out.error = QStringLiteral("no programmes in the source (%1 channels)").arg(out.channels);
    } else if (out.baseline && (shrank(out.window.programmes, out.baseline->programmes)
                                || shrank(out.window.channels, out.baseline->channels))) {
        out.held = true;
        out.error = QStringLiteral("held back: %1 programmes on %2 channels in the guide window, against %3 on %4 in "
                                   "the last good read (below %5 %); serving the last good data until the source "
                                   "recovers or an operator accepts it (POST /api/sources/accept?source=...)")
                        .arg(out.window.programmes)
                        .arg(out.window.channels)
                        .arg(out.baseline->programmes)
                        .arg(out.baseline->channels)
                        .arg(qRound(settings.shrinkGuard * 100));
    }
    out.durationMs = clock.elapsed();
    if (!out.error.isEmpty()) {
        writer->rollback();
        return out;
    }
    out.ok = true;
    if (!writer->commit({}, settings.now, compactJson(out.toJson()))) {
        out.ok = false;
        out.error = QStringLiteral("store: %1").arg(writer->error());
    }
    out.durationMs = clock.elapsed();
    return out;
}

SourceOutcome readLineup(GuideStore &store, const JobSettings &settings, const FetchedSource &src)
{
    SourceOutcome out;
    out.key = src.key;
    out.kind = src.kind;
    QElapsedTimer clock;
    clock.start();
    QByteArray bytes = src.bytes;
    if (!src.localPath.isEmpty()) {
        QFile f(src.localPath);
        if (!f.open(QIODevice::ReadOnly)) {
            out.error = QStringLiteral("cannot read %1: %2").arg(src.localPath, f.errorString());
            return out;
        }
        bytes = f.readAll();
    }
    DiagnosticList diags(ReportDiagnostics * 4);
    const Lineup lineup = M3uReader::parse(bytes, src.key, &diags);
    takeDiagnostics(diags, &out.diagnostics, &out.errorCount, &out.warningCount);
    out.channels = lineup.entries.size();
    out.durationMs = clock.elapsed();
    if (lineup.entries.isEmpty()) {
        out.error = QStringLiteral("no channels in the lineup");
        return out;
    }
    // The lineup is small: keep its bytes and map at compile time against whatever guide data
    // is current then.
    auto writer = store.beginReplace(src.key, src.kind);
    out.ok = writer->isActive() && writer->commit(bytes, settings.now, compactJson(out.toJson()));
    if (!out.ok)
        out.error = QStringLiteral("store: %1").arg(writer->error());
    return out;
}

} // namespace

qint64 startOfUtcDay(qint64 t)
{
    return t - ((t % 86400) + 86400) % 86400;
}

std::pair<qint64, qint64> guideWindow(const JobSettings &settings)
{
    const qint64 from = settings.from > 0 ? settings.from : startOfUtcDay(settings.now);
    return {from, from + qint64(settings.days) * 86400};
}

QJsonObject diagnosticToJson(const Diagnostic &d)
{
    QJsonObject o{{QStringLiteral("severity"), d.severity == Diagnostic::Severity::Error ? u"error"_qs : u"warning"_qs},
                  {QStringLiteral("message"), d.message}};
    if (d.fatal)
        o.insert(QStringLiteral("fatal"), true);
    if (!d.source.isEmpty())
        o.insert(QStringLiteral("source"), d.source);
    if (d.line > 0)
        o.insert(QStringLiteral("line"), d.line);
    if (d.column > 0)
        o.insert(QStringLiteral("column"), d.column);
    return o;
}

QJsonObject SourceOutcome::toJson() const
{
    QJsonObject o{{QStringLiteral("source"), key},
                  {QStringLiteral("kind"), kind},
                  {QStringLiteral("ok"), ok},
                  {QStringLiteral("notModified"), notModified},
                  {QStringLiteral("channels"), channels},
                  {QStringLiteral("programmes"), programmes},
                  {QStringLiteral("durationMs"), durationMs},
                  {QStringLiteral("errors"), errorCount},
                  {QStringLiteral("warnings"), warningCount},
                  {QStringLiteral("diagnostics"), diagnosticsJson(diagnostics)}};
    if (!error.isEmpty())
        o.insert(QStringLiteral("error"), error);
    if (held)
        o.insert(QStringLiteral("held"), true);
    if (incomplete)
        o.insert(QStringLiteral("incomplete"), true);
    const auto counts = [](const WindowCounts &c) {
        return QJsonObject{{QStringLiteral("programmes"), c.programmes}, {QStringLiteral("channels"), c.channels}};
    };
    if (kind == KindXmltv && !notModified)
        o.insert(QStringLiteral("window"), counts(window));
    if (baseline)
        o.insert(QStringLiteral("stored"), counts(*baseline));
    return o;
}

QJsonObject CompileOutcome::toJson() const
{
    QJsonObject o{{QStringLiteral("attempted"), attempted}, {QStringLiteral("ok"), ok}};
    if (!attempted)
        return o;
    if (!error.isEmpty())
        o.insert(QStringLiteral("error"), error);
    o.insert(QStringLiteral("unchanged"), unchanged);
    o.insert(QStringLiteral("durationMs"), durationMs);
    if (version.isValid()) {
        o.insert(QStringLiteral("version"), version.version);
        o.insert(QStringLiteral("checksum"), QString::fromLatin1(version.checksum));
    }
    o.insert(QStringLiteral("stats"),
             QJsonObject{{QStringLiteral("channels"), stats.channels},
                         {QStringLiteral("programmesIn"), stats.programmesIn},
                         {QStringLiteral("airings"), stats.airings},
                         {QStringLiteral("outsideWindow"), stats.outsideWindow},
                         {QStringLiteral("unknownChannel"), stats.unknownChannel},
                         {QStringLiteral("overlapsTrimmed"), stats.overlapsTrimmed},
                         {QStringLiteral("duplicatesDropped"), stats.duplicatesDropped},
                         {QStringLiteral("missingStopFilled"), stats.missingStopFilled},
                         {QStringLiteral("programmeRecords"), stats.programmeRecords},
                         {QStringLiteral("strings"), stats.strings},
                         {QStringLiteral("bodyBytes"), stats.bodyBytes},
                         {QStringLiteral("fileBytes"), stats.fileBytes}});
    if (lineupEntries > 0) {
        o.insert(QStringLiteral("lineup"),
                 QJsonObject{{QStringLiteral("entries"), lineupEntries},
                             {QStringLiteral("mapped"), lineupMapped},
                             {QStringLiteral("droppedProgrammes"), droppedNotInLineup},
                             {QStringLiteral("guideChannelsNotInLineup"), QJsonArray::fromStringList(guideChannelsNotInLineup)}});
    }
    o.insert(QStringLiteral("errors"), errorCount);
    o.insert(QStringLiteral("warnings"), warningCount);
    o.insert(QStringLiteral("diagnostics"), diagnosticsJson(diagnostics));
    return o;
}

bool RefreshReport::ok() const
{
    // Not compiling is fine when nothing changed (every source unchanged upstream).
    if (aborted || (compile.attempted && !compile.ok) || (!compile.attempted && sources.isEmpty()))
        return false;
    for (const SourceOutcome &s : sources) {
        if (!s.ok)
            return false;
    }
    return true;
}

QJsonObject RefreshReport::toJson() const
{
    QJsonArray srcs;
    for (const SourceOutcome &s : sources)
        srcs.append(s.toJson());
    return {{QStringLiteral("trigger"), trigger},
            {QStringLiteral("started"), started},
            {QStringLiteral("finished"), finished},
            {QStringLiteral("durationMs"), durationMs},
            {QStringLiteral("ok"), ok()},
            {QStringLiteral("aborted"), aborted},
            {QStringLiteral("sources"), srcs},
            {QStringLiteral("compile"), compile.toJson()}};
}

CompileOutcome compileFromStore(GuideStore &store, const JobSettings &settings)
{
    CompileOutcome out;
    out.attempted = true;
    QElapsedTimer clock;
    clock.start();
    auto finish = [&](const QString &error) {
        out.error = error;
        out.ok = error.isEmpty();
        out.durationMs = clock.elapsed();
        if (!out.ok)
            qCWarning(lcRefresh) << "compile failed:" << error;
        return out;
    };

    // Channels of every source, the first declaration of an id winning.
    QList<Channel> guideChannels;
    QSet<QString> seen;
    qint64 storedProgrammes = 0;
    for (const QString &key : settings.xmltv) {
        QList<Channel> channels;
        QString error;
        if (!store.loadChannels(key, &channels, &error))
            return finish(QStringLiteral("loading channels of %1: %2").arg(key, error));
        for (Channel &c : channels) {
            if (!seen.contains(c.id)) {
                seen.insert(c.id);
                guideChannels.append(std::move(c));
            }
        }
        if (const auto rec = store.source(key))
            storedProgrammes += rec->programmeCount;
    }
    if (storedProgrammes == 0)
        return finish(QStringLiteral("no stored programmes: no source has been read successfully yet"));

    GuideCompileOptions options;
    options.from = guideWindow(settings).first;
    options.days = settings.days;
    options.compressionLevel = settings.compressionLevel;
    options.generator = settings.generator;
    options.createdAt = settings.now;
    GuideBuilder builder(options);

    // With a lineup the box's channel list is the lineup's, and programmes of guide channels it
    // does not carry are dropped; without one, every guide channel in source order.
    std::optional<QSet<QString>> allowed;
    if (!settings.lineup.isEmpty()) {
        const QByteArray m3u = store.sourceContent(settings.lineup);
        if (m3u.isEmpty()) {
            qCWarning(lcRefresh) << "lineup" << settings.lineup << "has never been read; using every guide channel";
        } else {
            DiagnosticList ignored;
            const Lineup lineup = M3uReader::parse(m3u, settings.lineup, &ignored);
            const ChannelMapping mapping = ChannelMapper::map(lineup, guideChannels);
            out.lineupEntries = lineup.entries.size();
            out.lineupMapped = mapping.mappedCount();
            out.guideChannelsNotInLineup = mapping.guideChannelsNotInLineup;
            allowed.emplace();
            for (const Channel &c : mapping.channels)
                allowed->insert(c.id);
            builder.addMappedChannels(mapping);
        }
    }
    if (!allowed) {
        for (const Channel &c : std::as_const(guideChannels))
            builder.addChannel(c);
    }
    for (const QString &key : settings.xmltv) {
        QString error;
        const bool ok = store.forEachProgramme(key, [&](Programme &&p) {
            if (allowed && !allowed->contains(p.channelId)) {
                ++out.droppedNotInLineup;
                return;
            }
            builder.addProgramme(p);
        }, &error);
        if (!ok)
            return finish(QStringLiteral("loading programmes of %1: %2").arg(key, error));
        if (aborted(settings))
            return finish(QStringLiteral("compile aborted"));
    }

    const qint64 loadMs = clock.elapsed();
    DiagnosticList diags(ReportDiagnostics * 4);
    QByteArray bytes = builder.finish(&diags);
    const qint64 buildMs = clock.elapsed() - loadMs;
    out.stats = builder.stats();
    takeDiagnostics(diags, &out.diagnostics, &out.errorCount, &out.warningCount);
    if (bytes.isEmpty())
        return finish(QStringLiteral("the guide builder produced no output"));
    QString error;
    auto guide = Guide::fromBytes(bytes, &error, QStringLiteral("compiled guide"));
    if (!guide)
        return finish(QStringLiteral("the compiled guide does not open: %1").arg(error));
    if (guide->airingCount() == 0)
        return finish(QStringLiteral("no programmes in the guide window (%1 + %2 days); check --from and the sources' dates")
                          .arg(QDateTime::fromSecsSinceEpoch(options.from, QTimeZone::utc()).toString(Qt::ISODate))
                          .arg(options.days));

    const GuideInfo &info = guide->info();
    const QList<GuideVersion> existing = store.guides(&error);
    if (!existing.isEmpty() && existing.first().checksum == info.checksum && QFileInfo::exists(existing.first().path)) {
        out.unchanged = true;
        out.version = existing.first();
        out.guide = guide;
        out.fileBytes = bytes;
        // Serve the bytes that are on disk so /guide answers the same file it did before.
        QFile f(existing.first().path);
        if (f.open(QIODevice::ReadOnly))
            out.fileBytes = f.readAll();
        return finish({});
    }

    if (!QDir().mkpath(settings.guidesDir))
        return finish(QStringLiteral("cannot create %1").arg(settings.guidesDir));
    const QString path = QDir(settings.guidesDir).filePath(QString::fromLatin1(info.checksum) + u".guide");
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
        return finish(QStringLiteral("cannot write %1: %2").arg(path, file.errorString()));

    GuideVersion v;
    v.checksum = info.checksum;
    v.path = path;
    v.createdAt = info.createdAt ? info.createdAt : settings.now;
    v.validFrom = info.validFrom;
    v.validUntil = info.validUntil;
    v.fileSize = bytes.size();
    v.channels = info.channelCount;
    v.airings = info.airingCount;
    v.programmes = info.programmeCount;
    v.version = store.addGuide(v, &error);
    if (v.version == 0)
        return finish(QStringLiteral("recording the guide: %1").arg(error));
    out.version = v;
    out.guide = guide;
    out.fileBytes = bytes;

    // Keep the newest `keep` distinct guides. A checksum compiled again (a source that came back
    // to what it was) keeps only its newest version, so no guide is listed twice; its file,
    // shared by both, stays.
    const QList<GuideVersion> all = store.guides(&error);
    QSet<QString> keptPaths;
    QSet<QByteArray> keptChecksums;
    for (qsizetype i = 0; i < all.size(); ++i) {
        if (keptChecksums.size() < settings.keep && !keptChecksums.contains(all[i].checksum)) {
            keptChecksums.insert(all[i].checksum);
            keptPaths.insert(all[i].path);
            continue;
        }
        if (store.removeGuide(all[i].version, &error)) {
            out.removed.append(all[i]);
            if (!keptPaths.contains(all[i].path))
                QFile::remove(all[i].path);
        }
    }
    qCInfo(lcRefresh).nospace() << "compiled guide v" << v.version << " " << v.checksum << ": " << v.channels
                                << " channels, " << v.airings << " airings, " << v.fileSize << " bytes in "
                                << clock.elapsed() << " ms (store read " << loadMs << " ms, build " << buildMs << " ms)";
    return finish({});
}

RefreshReport runRefresh(const JobSettings &settings, const QList<FetchedSource> &sources, bool forceCompile)
{
    RefreshReport report;
    report.started = settings.now;
    QElapsedTimer clock;
    clock.start();
    auto done = [&] {
        report.durationMs = clock.elapsed();
        report.finished = settings.now + report.durationMs / 1000;
        report.aborted = aborted(settings);
        return report;
    };

    GuideStore store;
    QString error;
    if (!store.open(settings.database, &error)) {
        for (const FetchedSource &src : sources)
            {
            SourceOutcome failed{src.key, src.kind};
            failed.error = QStringLiteral("store: %1").arg(error);
            report.sources.append(failed);
        }
        report.compile.attempted = true;
        report.compile.error = QStringLiteral("store: %1").arg(error);
        return done();
    }

    bool anyUpdated = false;
    for (const FetchedSource &src : sources) {
        SourceOutcome outcome;
        if (aborted(settings)) {
            outcome = {src.key, src.kind};
            outcome.error = QStringLiteral("refresh aborted");
        } else if (src.notModified) {
            outcome = {src.key, src.kind, true, true};
            if (const auto rec = store.source(src.key)) {
                outcome.channels = rec->channelCount;
                outcome.programmes = rec->programmeCount;
            }
            outcome.durationMs = src.fetchMs;
            QString ignored;
            store.recordUnchanged(src.key, settings.now, &ignored);
            qCInfo(lcRefresh) << "source" << src.key << "not modified upstream; keeping the stored data";
            report.sources.append(std::move(outcome));
            continue;
        } else if (!src.fetchError.isEmpty()) {
            outcome = {src.key, src.kind};
            outcome.error = src.fetchError;
            outcome.durationMs = src.fetchMs;
        } else if (src.kind == KindM3u) {
            outcome = readLineup(store, settings, src);
        } else {
            outcome = readXmltv(store, settings, src);
        }
        if (outcome.ok) {
            anyUpdated = true;
            qCInfo(lcRefresh).nospace() << "source " << src.key << ": " << outcome.channels << " channels, "
                                        << outcome.programmes << " programmes, " << outcome.errorCount << " errors, "
                                        << outcome.warningCount << " warnings, " << outcome.durationMs << " ms";
        } else {
            qCWarning(lcRefresh).nospace() << "source " << src.key << " failed: " << outcome.error
                                           << "; keeping its previous data";
            QString ignored;
            store.recordFailure(src.key, src.kind, settings.now, outcome.error,
                                compactJson(outcome.toJson()), &ignored);
        }
        report.sources.append(std::move(outcome));
    }

    if ((anyUpdated || forceCompile) && !aborted(settings))
        report.compile = compileFromStore(store, settings);
    return done();
}

RefreshReport runRecompile(const JobSettings &settings)
{
    return runRefresh(settings, {}, true);
}

} // namespace iptv::next
