#include "commands.h"

#include <core/diagnostic.h>
#include <core/numbers.h>
#include <core/progress.h>
#include <core/subcommand.h>
#include <epg/channelmapper.h>
#include <epg/guide.h>
#include <epg/guidegenerator.h>
#include <epg/guidewriter.h>
#include <epg/m3ureader.h>
#include <epg/search.h>
#include <epg/xmltvreader.h>
#include <epg/xmltvwriter.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <core/streamedfile.h>
#include <QSaveFile>
#include <QTimeZone>

#include <sys/resource.h>

#include <memory>

Q_LOGGING_CATEGORY(lcGuideTool, "iptv.tools.guide")

namespace iptv::guidetool {

using namespace iptv::epg;

namespace {

const QString kProgram = u"iptv-guide"_qs;

const iptv::cli::SubcommandProgram s_tool(kProgram);
using iptv::cli::humanBytes;
using iptv::cli::Parsed;

/// The value of a number flag, checked against [minimum, maximum]; *error names the flag.
bool intFlag(const QCommandLineParser &parser, const QCommandLineOption &flag, int minimum, int maximum, int *value,
             QString *error)
{
    return iptv::parseIntInRange(u"--"_qs + flag.names().constLast(), parser.value(flag), minimum, maximum, value, error);
}

qint64 peakRssBytes()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return qint64(usage.ru_maxrss) * 1024;
}

QString formatUtc(qint64 utcSeconds)
{
    return QDateTime::fromSecsSinceEpoch(utcSeconds, QTimeZone::utc()).toString(u"yyyy-MM-dd HH:mm 'UTC'"_qs);
}

QString formatIn(qint64 utcSeconds, const QTimeZone &zone)
{
    return QDateTime::fromSecsSinceEpoch(utcSeconds, zone).toString(u"yyyy-MM-dd HH:mm"_qs);
}

void printDiagnostics(QTextStream &err, const iptv::DiagnosticList &diagnostics, int shown)
{
    const QList<iptv::Diagnostic> &items = diagnostics.items();
    for (qsizetype i = 0; i < items.size() && i < shown; ++i)
        err << items.at(i).toString() << '\n';
    if (diagnostics.total() > shown)
        err << u"... and %1 more"_qs.arg(diagnostics.total() - qMin<qsizetype>(shown, diagnostics.total())) << '\n';
    if (!diagnostics.isEmpty())
        err << diagnostics.summary() << '\n';
}


std::shared_ptr<const Guide> openGuide(const QString &path, QTextStream &err)
{
    QString error;
    auto guide = Guide::open(path, &error);
    if (!guide)
        s_tool.failure(err, error.isEmpty() ? u"%1: cannot open guide"_qs.arg(path) : error);
    return guide;
}

} // namespace

bool parseTime(const QString &text, const QString &zoneId, qint64 *utcSeconds, QString *error)
{
    const QString t = text.trimmed();
    bool isNumber = false;
    const qint64 epoch = t.toLongLong(&isNumber);
    if (isNumber) {
        *utcSeconds = epoch;
        return true;
    }
    QTimeZone zone = QTimeZone::utc();
    if (!zoneId.isEmpty()) {
        zone = QTimeZone(zoneId.toUtf8());
        if (!zone.isValid()) {
            *error = u"unknown time zone '%1'"_qs.arg(zoneId);
            return false;
        }
    }
    QDateTime dt = QDateTime::fromString(t, Qt::ISODate);
    if (!dt.isValid()) {
        const QDate date = QDate::fromString(t, Qt::ISODate);
        if (date.isValid())
            dt = QDateTime(date, QTime(0, 0));
    }
    if (!dt.isValid()) {
        *error = u"'%1' is neither an ISO 8601 time (2026-01-05T06:00[:00][Z|+01:00]) nor epoch seconds"_qs.arg(t);
        return false;
    }
    // No offset in the text: the time is local to the zone asked for.
    if (dt.timeSpec() == Qt::LocalTime)
        dt = QDateTime(dt.date(), dt.time(), zone);
    *utcSeconds = dt.toSecsSinceEpoch();
    return true;
}

// ---------------------------------------------------------------------------------------------

int compile(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString command = u"compile"_qs;
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Compiles XMLTV guides (plain, .gz or .xz) into a compact box guide.\n"
        "Programmes are streamed into the guide builder, so memory follows the size of the guide, not of the XML.\n"
        "With --lineup, the guide's channels are those of the M3U lineup, in its order; programmes of guide\n"
        "channels the lineup does not carry are dropped (the channel list is read first, up to each file's\n"
        "first programme, as XMLTV puts channels before programmes).\n"
        "An input with errors writes nothing (exit 3) unless --allow-errors; an input that ends early\n"
        "(truncated, undecodable) writes nothing (exit 4) unless --allow-partial.\n"
        "Exit codes: 0 written, 1 failed, 2 usage, 3 input errors, 4 incomplete input."_qs);
    parser.addPositionalArgument(u"inputs"_qs, u"XMLTV files (.xml, .xml.gz, .xml.xz)."_qs, u"IN.xml [IN2 ...]"_qs);
    const QCommandLineOption output({u"o"_qs, u"output"_qs}, u"The guide file to write."_qs, u"OUT.guide"_qs);
    const QCommandLineOption lineup(u"lineup"_qs, u"M3U lineup deciding channels and their order."_qs, u"L.m3u"_qs);
    const QCommandLineOption from(u"from"_qs, u"Window start: ISO 8601 or epoch seconds (default: first programme)."_qs,
                                  u"time"_qs);
    const QCommandLineOption days(u"days"_qs, u"Window length in days (default 14)."_qs, u"n"_qs, u"14"_qs);
    const QCommandLineOption level(u"level"_qs,
                                   u"zstd compression level 1-22, or 0 (default) to pick by size: 19 for small "
                                   "guides, lower for large ones so a compile stays fast."_qs,
                                   u"n"_qs, u"0"_qs);
    const QCommandLineOption threads(u"threads"_qs, u"zstd worker threads (default 0: one per core)."_qs, u"n"_qs,
                                     u"0"_qs);
    const QCommandLineOption timeZone(u"time-zone"_qs,
                                      u"Zone of XMLTV times without an offset and of --from (default UTC)."_qs,
                                      u"zone"_qs);
    const QCommandLineOption createdAt(u"created-at"_qs, u"Creation time recorded in the header, for reproducible output."_qs,
                                       u"time"_qs);
    const QCommandLineOption maxDiagnostics(u"max-diagnostics"_qs, u"How many diagnostics to print (default 20)."_qs,
                                            u"n"_qs, u"20"_qs);
    const QCommandLineOption quiet({u"q"_qs, u"quiet"_qs}, u"No progress bar."_qs);
    const QCommandLineOption allowErrors(u"allow-errors"_qs,
                                         u"Write the guide although entries of the input were skipped as unreadable."_qs);
    const QCommandLineOption allowPartial(u"allow-partial"_qs,
                                          u"Write the guide although an input ended early (what was read of it is kept)."_qs);
    parser.addOptions({output, lineup, from, days, level, threads, timeZone, createdAt, maxDiagnostics, quiet,
                       allowErrors, allowPartial});
    const Parsed parsed = s_tool.parse(parser, command, arguments, out, err);
    if (!parsed.proceed)
        return parsed.exitCode;

    const QStringList inputs = parser.positionalArguments();
    if (inputs.isEmpty())
        return s_tool.usageError(err, command, u"no input file given"_qs);
    if (!parser.isSet(output))
        return s_tool.usageError(err, command, u"no output file given (-o OUT.guide)"_qs);
    GuideCompileOptions options;
    options.generator = u"iptv-guide %1"_qs.arg(QCoreApplication::applicationVersion());
    if (QString bad; !intFlag(parser, days, 1, 62, &options.days, &bad))
        return s_tool.usageError(err, command, bad);
    if (QString bad; !intFlag(parser, level, 0, 22, &options.compressionLevel, &bad))
        return s_tool.usageError(err, command, bad);
    if (QString bad; !intFlag(parser, threads, 0, 256, &options.threads, &bad))
        return s_tool.usageError(err, command, bad);
    int shownDiagnostics = 20;
    if (QString bad; !intFlag(parser, maxDiagnostics, 0, 1000000, &shownDiagnostics, &bad))
        return s_tool.usageError(err, command, bad);
    QTimeZone zone = QTimeZone::utc();
    if (parser.isSet(timeZone)) {
        zone = QTimeZone(parser.value(timeZone).toUtf8());
        if (!zone.isValid())
            return s_tool.usageError(err, command, u"unknown time zone '%1'"_qs.arg(parser.value(timeZone)));
    }
    QString timeError;
    if (parser.isSet(from) && !parseTime(parser.value(from), parser.value(timeZone), &options.from, &timeError))
        return s_tool.usageError(err, command, u"--from: "_qs + timeError);
    if (parser.isSet(createdAt) && !parseTime(parser.value(createdAt), {}, &options.createdAt, &timeError))
        return s_tool.usageError(err, command, u"--created-at: "_qs + timeError);
    const bool isQuiet = parser.isSet(quiet);

    qint64 inputBytes = 0;
    for (const QString &path : inputs) {
        const QFileInfo info(path);
        if (!info.isFile())
            return s_tool.failure(err, u"%1: no such file"_qs.arg(path));
        inputBytes += info.size();
    }

    QElapsedTimer clock;
    clock.start();
    iptv::DiagnosticList diagnostics;

    // ---- lineup: channels and order come from it ----
    std::unique_ptr<ChannelMapping> mapping;
    if (parser.isSet(lineup)) {
        bool ok = false;
        const Lineup l = M3uReader::readFile(parser.value(lineup), &diagnostics, &ok);
        if (!ok) {
            printDiagnostics(err, diagnostics, shownDiagnostics);
            return s_tool.failure(err, u"%1: cannot read the lineup"_qs.arg(parser.value(lineup)));
        }
        QList<Channel> guideChannels;
        iptv::DiagnosticList channelPass; // the full read reports the same problems again
        for (const QString &path : inputs) {
            // The mapping needs every guide channel before the first programme is added; the DTD
            // puts channels first, so this pass stops at a file's first programme.
            bool sawProgramme = false;
            XmltvReadOptions readOptions;
            readOptions.defaultZone = zone;
            readOptions.cancelled = [&sawProgramme] { return sawProgramme; };
            if (!XmltvReader::readFile(path, [&guideChannels](Channel &&c) { guideChannels.append(std::move(c)); },
                                       [&sawProgramme](Programme &&) { sawProgramme = true; }, &channelPass,
                                       readOptions)) {
                printDiagnostics(err, channelPass, shownDiagnostics);
                return s_tool.failure(err, u"%1: cannot read XMLTV"_qs.arg(path));
            }
        }
        mapping = std::make_unique<ChannelMapping>(ChannelMapper::map(l, guideChannels));
        err << mapping->report();
        if (!mapping->report().endsWith(u'\n'))
            err << '\n';
        options.keepUndeclaredChannels = false;
    }

    GuideBuilder builder(options);
    if (mapping)
        builder.addMappedChannels(*mapping);

    // ---- read and feed ----
    err.flush(); // the progress bar draws on stderr directly
    iptv::ProgressBar progress(u"reading"_qs, inputBytes, isQuiet);
    qint64 doneBefore = 0;
    for (const QString &path : inputs) {
        const qint64 size = QFileInfo(path).size();
        XmltvReadOptions readOptions;
        readOptions.defaultZone = zone;
        readOptions.progress = [&](qint64 done, qint64 total) {
            // The reader counts the bytes it decompressed or read; scale to this file's share.
            const double fraction = total > 0 ? qBound(0.0, double(done) / double(total), 1.0) : 0.0;
            progress.update(doneBefore + qint64(fraction * double(size)));
        };
        const bool keepChannels = !mapping;
        const bool ok = XmltvReader::readFile(
            path,
            [&builder, keepChannels](Channel &&c) {
                if (keepChannels)
                    builder.addChannel(c);
            },
            [&builder](Programme &&p) { builder.addProgramme(p); }, &diagnostics, readOptions);
        if (!ok) {
            progress.finish(u"failed"_qs);
            printDiagnostics(err, diagnostics, shownDiagnostics);
            return s_tool.failure(err, u"%1: cannot read XMLTV"_qs.arg(path));
        }
        doneBefore += size;
        progress.update(doneBefore);
    }
    progress.finish();
    const qint64 readMs = clock.elapsed();

    // A guide missing part of its input must not look like a good one to a script.
    const bool incomplete = diagnostics.hasFatal() && !parser.isSet(allowPartial);
    const bool withErrors = diagnostics.errorCount() > diagnostics.fatalCount() && !parser.isSet(allowErrors);
    if (incomplete || withErrors) {
        printDiagnostics(err, diagnostics, shownDiagnostics);
        s_tool.failure(err, incomplete ? u"an input ended early; nothing written (--allow-partial writes what was read)"_qs
                                       : u"the input has errors; nothing written (--allow-errors writes the rest)"_qs);
        return incomplete ? ExitIncompleteInput : ExitInputErrors;
    }

    QElapsedTimer buildClock;
    buildClock.start();
    QString error;
    if (!builder.finishToFile(parser.value(output), &error, &diagnostics)) {
        printDiagnostics(err, diagnostics, shownDiagnostics);
        return s_tool.failure(err, error.isEmpty() ? u"%1: cannot write the guide"_qs.arg(parser.value(output)) : error);
    }
    const qint64 buildMs = buildClock.elapsed();
    printDiagnostics(err, diagnostics, shownDiagnostics);

    const GuideCompileStats &st = builder.stats();
    out << u"wrote %1\n"_qs.arg(parser.value(output));
    out << u"  channels           %1\n"_qs.arg(st.channels);
    out << u"  programmes in      %1\n"_qs.arg(st.programmesIn);
    out << u"  airings kept       %1\n"_qs.arg(st.airings);
    out << u"  outside window     %1\n"_qs.arg(st.outsideWindow);
    out << u"  unknown channel    %1%2\n"_qs.arg(st.unknownChannel).arg(mapping ? u" (dropped: not in lineup)"_qs : QString());
    out << u"  invalid times      %1\n"_qs.arg(st.invalidTimes);
    out << u"  overlaps trimmed   %1\n"_qs.arg(st.overlapsTrimmed);
    out << u"  duplicates dropped %1\n"_qs.arg(st.duplicatesDropped);
    out << u"  missing stop fill  %1\n"_qs.arg(st.missingStopFilled);
    out << u"  programme records  %1\n"_qs.arg(st.programmeRecords);
    out << u"  strings            %1\n"_qs.arg(st.strings);
    out << u"  input              %1 (%2 bytes)\n"_qs.arg(humanBytes(inputBytes)).arg(inputBytes);
    out << u"  body               %1 (%2 bytes)\n"_qs.arg(humanBytes(st.bodyBytes)).arg(st.bodyBytes);
    out << u"  guide file         %1 (%2 bytes, %3 of input)\n"_qs.arg(humanBytes(st.fileBytes)).arg(st.fileBytes)
               .arg(inputBytes > 0 ? u"%1 %"_qs.arg(100.0 * double(st.fileBytes) / double(inputBytes), 0, 'f', 2) : u"-"_qs);
    out << u"  time               %1 s (read %2 s, build %3 s)\n"_qs.arg(double(clock.elapsed()) / 1000.0, 0, 'f', 2)
               .arg(double(readMs) / 1000.0, 0, 'f', 2).arg(double(buildMs) / 1000.0, 0, 'f', 2);
    out << u"  peak memory        %1\n"_qs.arg(humanBytes(peakRssBytes()));
    return ExitOk;
}

// ---------------------------------------------------------------------------------------------

int inspect(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString command = u"inspect"_qs;
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Shows a guide file's header: version, validity, counts, sizes, checksum."_qs);
    parser.addPositionalArgument(u"guide"_qs, u"The guide file."_qs, u"OUT.guide"_qs);
    const QCommandLineOption json(u"json"_qs, u"Print JSON."_qs);
    const QCommandLineOption channels(u"channels"_qs, u"Also list channels with their programme counts."_qs);
    parser.addOptions({json, channels});
    const Parsed parsed = s_tool.parse(parser, command, arguments, out, err);
    if (!parsed.proceed)
        return parsed.exitCode;
    if (parser.positionalArguments().size() != 1)
        return s_tool.usageError(err, command, u"expected one guide file"_qs);
    const QString path = parser.positionalArguments().first();

    QElapsedTimer clock;
    clock.start();
    const auto guide = openGuide(path, err);
    if (!guide)
        return ExitError;
    const qint64 openUs = clock.nsecsElapsed() / 1000;
    const GuideInfo &info = guide->info();

    if (parser.isSet(json)) {
        QJsonObject o;
        o[u"file"_qs] = path;
        o[u"formatVersion"_qs] = info.formatVersion;
        o[u"validFrom"_qs] = info.validFrom;
        o[u"validUntil"_qs] = info.validUntil;
        o[u"createdAt"_qs] = info.createdAt;
        o[u"channels"_qs] = qint64(info.channelCount);
        o[u"airings"_qs] = qint64(info.airingCount);
        o[u"programmes"_qs] = qint64(info.programmeCount);
        o[u"strings"_qs] = qint64(info.stringCount);
        o[u"fileSize"_qs] = qint64(info.fileSize);
        o[u"bodySize"_qs] = qint64(info.bodySize);
        o[u"checksum"_qs] = QString::fromLatin1(info.checksum);
        o[u"generator"_qs] = info.generator;
        o[u"openMicroseconds"_qs] = openUs;
        if (parser.isSet(channels)) {
            QJsonArray list;
            for (int c = 0; c < guide->channelCount(); ++c) {
                const auto [first, count] = guide->channelAirings(c);
                Q_UNUSED(first)
                QJsonObject ch;
                ch[u"id"_qs] = guide->channelId(c);
                ch[u"name"_qs] = guide->channelName(c);
                ch[u"number"_qs] = guide->channelNumber(c);
                ch[u"airings"_qs] = qint64(count);
                list.append(ch);
            }
            o[u"channelList"_qs] = list;
        }
        out << QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Indented));
        return ExitOk;
    }

    const double days = double(info.validUntil - info.validFrom) / 86400.0;
    out << u"file              %1\n"_qs.arg(path);
    out << u"format version    %1\n"_qs.arg(info.formatVersion);
    out << u"valid             %1 .. %2 (%3 days)\n"_qs.arg(formatUtc(info.validFrom), formatUtc(info.validUntil))
               .arg(days, 0, 'g', 4);
    out << u"created           %1\n"_qs.arg(formatUtc(info.createdAt));
    out << u"generator         %1\n"_qs.arg(info.generator);
    out << u"channels          %1\n"_qs.arg(info.channelCount);
    out << u"airings           %1\n"_qs.arg(info.airingCount);
    out << u"programmes        %1 distinct (%2 airings each on average)\n"_qs.arg(info.programmeCount)
               .arg(info.programmeCount ? double(info.airingCount) / info.programmeCount : 0.0, 0, 'f', 2);
    out << u"strings           %1\n"_qs.arg(info.stringCount);
    out << u"file size         %1 (%2 bytes)\n"_qs.arg(humanBytes(qint64(info.fileSize))).arg(info.fileSize);
    out << u"body size         %1 (%2 bytes, compressed to %3 %)\n"_qs.arg(humanBytes(qint64(info.bodySize)))
               .arg(info.bodySize)
               .arg(info.bodySize ? 100.0 * double(info.fileSize) / double(info.bodySize) : 0.0, 0, 'f', 1);
    out << u"checksum          %1\n"_qs.arg(QString::fromLatin1(info.checksum));
    out << u"open              %1 ms\n"_qs.arg(double(openUs) / 1000.0, 0, 'f', 1);
    if (parser.isSet(channels)) {
        out << u"\n  #   number  id                              airings  name\n"_qs;
        for (int c = 0; c < guide->channelCount(); ++c) {
            const auto [first, count] = guide->channelAirings(c);
            Q_UNUSED(first)
            out << QString::number(c).rightJustified(3) << u"  "_qs
                << (guide->channelNumber(c) ? QString::number(guide->channelNumber(c)) : u"-"_qs).rightJustified(6)
                << u"  "_qs << guide->channelId(c).leftJustified(30) << u"  "_qs
                << QString::number(count).rightJustified(7) << u"  "_qs << guide->channelName(c) << '\n';
        }
    }
    return ExitOk;
}

// ---------------------------------------------------------------------------------------------

int search(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString command = u"search"_qs;
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Searches a guide the way the box does: every word a prefix, accents and case ignored,\n"
        "over title, sub-title, description and credits. One line per programme, its soonest airing."_qs);
    parser.addPositionalArgument(u"guide"_qs, u"The guide file."_qs, u"OUT.guide"_qs);
    parser.addPositionalArgument(u"query"_qs, u"The words to search for."_qs, u"\"query\""_qs);
    const QCommandLineOption channel(u"channel"_qs, u"Only this channel (id); may be repeated."_qs, u"id"_qs);
    const QCommandLineOption category(u"category"_qs, u"Only programmes with this category."_qs, u"name"_qs);
    const QCommandLineOption newOnly(u"new"_qs, u"Only airings flagged new."_qs);
    const QCommandLineOption limit(u"limit"_qs, u"Most results to show (default 50)."_qs, u"n"_qs, u"50"_qs);
    const QCommandLineOption at(u"at"_qs, u"Search from this time (ISO 8601 or epoch; default: guide start)."_qs,
                                u"time"_qs);
    const QCommandLineOption timeZone(u"time-zone"_qs, u"Zone to print times in (default UTC)."_qs, u"zone"_qs);
    parser.addOptions({channel, category, newOnly, limit, at, timeZone});
    const Parsed parsed = s_tool.parse(parser, command, arguments, out, err);
    if (!parsed.proceed)
        return parsed.exitCode;
    const QStringList positional = parser.positionalArguments();
    if (positional.size() < 2)
        return s_tool.usageError(err, command, u"expected a guide file and a query"_qs);
    SearchQuery query;
    query.text = positional.mid(1).join(u' ');
    if (QString bad; !intFlag(parser, limit, 1, 100000, &query.limit, &bad))
        return s_tool.usageError(err, command, bad);
    QTimeZone zone = QTimeZone::utc();
    if (parser.isSet(timeZone)) {
        zone = QTimeZone(parser.value(timeZone).toUtf8());
        if (!zone.isValid())
            return s_tool.usageError(err, command, u"unknown time zone '%1'"_qs.arg(parser.value(timeZone)));
    }
    if (parser.isSet(at)) {
        QString error;
        if (!parseTime(parser.value(at), parser.value(timeZone), &query.now, &error))
            return s_tool.usageError(err, command, u"--at: "_qs + error);
        query.from = query.now;
    }
    query.category = parser.value(category);
    query.newOnly = parser.isSet(newOnly);

    const auto guide = openGuide(positional.first(), err);
    if (!guide)
        return ExitError;
    for (const QString &id : parser.values(channel)) {
        const int c = guide->channelIndex(id);
        if (c < 0)
            return s_tool.failure(err, u"%1: no channel '%2' in the guide"_qs.arg(positional.first(), id));
        query.channels.append(c);
    }

    QElapsedTimer clock;
    clock.start();
    const SearchIndex &index = guide->searchIndex();
    const qint64 indexUs = clock.nsecsElapsed() / 1000;
    clock.restart();
    const SearchResult result = index.search(query);
    const qint64 queryNs = clock.nsecsElapsed();

    for (const SearchHit &hit : result.hits) {
        const quint32 programme = hit.airing.programme;
        QString line = formatIn(hit.airing.start, zone) + u"  "_qs
            + guide->channelId(int(hit.airing.channel)).leftJustified(20) + u"  "_qs + guide->title(programme);
        const QString subTitle = guide->subTitle(programme);
        if (!subTitle.isEmpty())
            line += u" — "_qs + subTitle;
        out << line << '\n';
    }
    out << u"%1 shown, %2%3 matching programmes; query %4 µs (index ready in %5 ms)\n"_qs
               .arg(result.hits.size())
               .arg(result.totalExact ? QString() : u"at least "_qs)
               .arg(result.totalProgrammes)
               .arg(double(queryNs) / 1000.0, 0, 'f', 1)
               .arg(double(indexUs) / 1000.0, 0, 'f', 1);
    return ExitOk;
}

// ---------------------------------------------------------------------------------------------

int exportXmltv(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString command = u"export"_qs;
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Writes a guide back as XMLTV (plain, .gz or .xz by the output's name)."_qs);
    parser.addPositionalArgument(u"guide"_qs, u"The guide file."_qs, u"OUT.guide"_qs);
    const QCommandLineOption output({u"o"_qs, u"output"_qs}, u"The XMLTV file to write."_qs, u"BACK.xml"_qs);
    const QCommandLineOption quiet({u"q"_qs, u"quiet"_qs}, u"No progress bar."_qs);
    parser.addOptions({output, quiet});
    const Parsed parsed = s_tool.parse(parser, command, arguments, out, err);
    if (!parsed.proceed)
        return parsed.exitCode;
    if (parser.positionalArguments().size() != 1)
        return s_tool.usageError(err, command, u"expected one guide file"_qs);
    if (!parser.isSet(output))
        return s_tool.usageError(err, command, u"no output file given (-o BACK.xml)"_qs);

    const auto guide = openGuide(parser.positionalArguments().first(), err);
    if (!guide)
        return ExitError;
    QElapsedTimer clock;
    clock.start();
    err.flush();
    iptv::ProgressBar progress(u"exporting"_qs, guide->airingCount(), parser.isSet(quiet));
    QString error;
    qint64 programmes = 0;
    const bool ok = iptv::writeStreamedFile(
        parser.value(output),
        [&](QIODevice *device) {
            XmltvWriter writer(device);
            writer.writeStart(guide->info().generator);
            for (int c = 0; c < guide->channelCount(); ++c)
                writer.writeChannel(guide->channelRecord(c));
            for (int c = 0; c < guide->channelCount() && !writer.hasError(); ++c) {
                const auto [first, count] = guide->channelAirings(c);
                for (quint32 i = first; i < first + count; ++i) {
                    writer.writeProgramme(guide->programmeRecord(guide->airing(i)));
                    ++programmes;
                }
                iptv::drainPipe(device);
                progress.update(programmes);
            }
            writer.writeEnd();
            return !writer.hasError();
        },
        &error);
    progress.finish();
    if (!ok)
        return s_tool.failure(err, error);
    out << u"wrote %1: %2 channels, %3 programmes, %4 in %5 s\n"_qs.arg(parser.value(output))
               .arg(guide->channelCount())
               .arg(programmes)
               .arg(humanBytes(QFileInfo(parser.value(output)).size()))
               .arg(double(clock.elapsed()) / 1000.0, 0, 'f', 2);
    return ExitOk;
}

// ---------------------------------------------------------------------------------------------

int generate(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString command = u"generate"_qs;
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Generates a realistic XMLTV guide for demos and benchmarks: news at fixed hours, series whose\n"
        "episodes repeat, films that re-air, live sport, several languages. The same options and seed give\n"
        "byte-identical output."_qs);
    const QCommandLineOption channels(u"channels"_qs, u"Number of channels (default 100)."_qs, u"n"_qs, u"100"_qs);
    const QCommandLineOption days(u"days"_qs, u"Number of days (default 14)."_qs, u"n"_qs, u"14"_qs);
    const QCommandLineOption start(u"start"_qs,
                                   u"First programme time, ISO 8601 or epoch (default 2026-01-05T00:00:00Z); "
                                   "'today' starts at today's midnight UTC."_qs,
                                   u"time"_qs);
    const QCommandLineOption seed(u"seed"_qs, u"Random seed (default 1)."_qs, u"n"_qs, u"1"_qs);
    const QCommandLineOption repeats(u"repeats"_qs,
                                     u"Percentage of airings (0-99.9, default 0) that re-air a programme drawn "
                                     "from the whole guide, leaving about (100 - percent) % of the airings as "
                                     "distinct programmes: 99.3 makes a 1000 x 14 lineup of about 2,400 "
                                     "programmes on a loop."_qs,
                                     u"percent"_qs, u"0"_qs);
    const QCommandLineOption output({u"o"_qs, u"output"_qs}, u"The XMLTV file to write (.xml, .xml.gz, .xml.xz)."_qs,
                                    u"LINEUP.xml"_qs);
    const QCommandLineOption quiet({u"q"_qs, u"quiet"_qs}, u"No progress bar."_qs);
    parser.addOptions({channels, days, start, seed, repeats, output, quiet});
    const Parsed parsed = s_tool.parse(parser, command, arguments, out, err);
    if (!parsed.proceed)
        return parsed.exitCode;
    if (!parser.positionalArguments().isEmpty())
        return s_tool.usageError(err, command, u"unexpected argument '%1'"_qs.arg(parser.positionalArguments().first()));
    if (!parser.isSet(output))
        return s_tool.usageError(err, command, u"no output file given (-o LINEUP.xml)"_qs);
    GuideGeneratorOptions options;
    if (QString bad; !intFlag(parser, channels, 1, 100000, &options.channels, &bad))
        return s_tool.usageError(err, command, bad);
    if (QString bad; !intFlag(parser, days, 1, 366, &options.days, &bad))
        return s_tool.usageError(err, command, bad);
    bool seedOk = false;
    options.seed = parser.value(seed).toULongLong(&seedOk);
    if (!seedOk)
        return s_tool.usageError(err, command, u"--seed wants a non-negative integer"_qs);
    bool repeatsOk = false;
    const double repeatPercent = parser.value(repeats).toDouble(&repeatsOk);
    if (!repeatsOk || repeatPercent < 0 || repeatPercent > 99.9)
        return s_tool.usageError(err, command, u"--repeats wants a percentage from 0 to 99.9"_qs);
    options.repeatShare = repeatPercent / 100.0;
    if (parser.isSet(start)) {
        if (parser.value(start) == u"today") {
            options.start = QDateTime::currentSecsSinceEpoch() / 86400 * 86400;
        } else {
            QString error;
            if (!parseTime(parser.value(start), {}, &options.start, &error))
                return s_tool.usageError(err, command, u"--start: "_qs + error);
        }
    }

    QElapsedTimer clock;
    clock.start();
    const GuideGenerator generator(options);
    iptv::ProgressBar progress(u"generating"_qs, options.channels, parser.isSet(quiet));
    QString error;
    const bool ok = generator.writeFile(parser.value(output), &error,
                                        [&progress](int done, int) { progress.update(done); });
    progress.finish();
    if (!ok)
        return s_tool.failure(err, error);
    out << u"wrote %1: %2 channels x %3 days from %4, seed %5%6, %7 in %8 s\n"_qs.arg(parser.value(output))
               .arg(options.channels)
               .arg(options.days)
               .arg(formatUtc(generator.windowStart()))
               .arg(options.seed)
               .arg(repeatPercent > 0 ? u", %1 % repeats"_qs.arg(repeatPercent) : QString())
               .arg(humanBytes(QFileInfo(parser.value(output)).size()))
               .arg(double(clock.elapsed()) / 1000.0, 0, 'f', 2);
    return ExitOk;
}

// ---------------------------------------------------------------------------------------------

int run(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString overview =
        u"Usage: iptv-guide <command> [options]\n\n"
        "Compiles, inspects, searches and exports compact box guides.\n\n"
        "Commands:\n"
        "  compile   XMLTV (+ M3U lineup) -> compact guide\n"
        "  inspect   show a guide's header, counts, sizes and channels\n"
        "  search    search a guide as the box does\n"
        "  export    write a guide back as XMLTV\n"
        "  generate  write a realistic synthetic XMLTV guide\n\n"
        "Run 'iptv-guide <command> --help' for a command's options.\n"
        "Exit codes: 0 ok, 1 error, 2 usage; compile: 3 input errors, 4 incomplete input (nothing written).\n"_qs;
    return s_tool.dispatch(arguments, overview,
                           {
                               {u"compile"_qs, compile},
                               {u"inspect"_qs, inspect},
                               {u"search"_qs, search},
                               {u"export"_qs, exportXmltv},
                               {u"generate"_qs, generate},
                           },
                           out, err);
}

} // namespace iptv::guidetool
