#pragma once

// A deterministic generator of realistic XMLTV guides, for demos, tests and benchmarks.
//
// Real guides cannot be shipped at benchmark scale (1,000 channels x 14 days), so this makes one
// with the shape that matters to the guide compiler: a weekly grid per channel with news at fixed
// hours, daily strips and weekly series whose episodes re-air, films that come back within the
// fortnight, live sport that does not, fillers that make odd durations, several languages and
// description lengths modelled on the files in /work/shared/data/xmltv. Everything is a pure
// function of the options: the same seed gives byte-identical output, and every airing's metadata
// depends only on what it is (show, season, episode), not on when the generator reached it, so
// repeats share their description as they do in real feeds.

#include "programme.h"

#include <QString>
#include <QtGlobal>

#include <functional>
#include <memory>

class QIODevice;

namespace iptv::epg {

struct GuideGeneratorOptions
{
    int channels = 100;
    int days = 14;
    /// UTC seconds; programmes start at or after it and before start + days. 0 = 2026-01-05 00:00 UTC,
    /// a fixed Monday, so that the output depends on the options alone.
    qint64 start = 0;
    quint64 seed = 1;
    /// Share of airings, 0 to 1, that re-air a programme from elsewhere in the guide instead of their
    /// own: each such airing copies every metadata field of an original airing drawn from all
    /// channels, so the guide has about (1 - repeatShare) x airings distinct programmes. 0 (the
    /// default) leaves the schedule as described above; 0.99 makes a lineup of a few thousand
    /// programmes on a loop, the worst case for anything that works per airing.
    double repeatShare = 0;
};

class GuideGenerator
{
public:
    using ChannelSink = std::function<void(const Channel &)>;
    using ProgrammeSink = std::function<void(Programme &&)>;
    /// Called after each channel's programmes with (channels done, channel count).
    using Progress = std::function<void(int done, int total)>;

    static constexpr qint64 DefaultStart = 1767571200; // 2026-01-05T00:00:00Z

    explicit GuideGenerator(GuideGeneratorOptions options = {});
    ~GuideGenerator();

    const GuideGeneratorOptions &options() const;
    qint64 windowStart() const;
    qint64 windowEnd() const;

    int channelCount() const;
    Channel channel(int index) const;

    /// The programmes of one channel in start order; each one's stop is the next one's start.
    void generateChannel(int index, const ProgrammeSink &sink) const;
    /// Every channel first, then each channel's programmes, the order an XMLTV file has.
    void generate(const ChannelSink &channelSink, const ProgrammeSink &programmeSink,
                  const Progress &progress = {}) const;
    /// The whole guide in memory; meant for small guides (tests).
    GuideData generateAll() const;

    /// Streams the guide as XMLTV into `out`, a channel at a time, so memory stays small.
    bool writeXmltv(QIODevice *out, QString *error = nullptr, const Progress &progress = {}) const;
    /// Writes to a file; a path ending in .gz or .xz is compressed by piping through gzip or xz.
    bool writeFile(const QString &path, QString *error = nullptr, const Progress &progress = {}) const;

    static QString generatorName();

    struct Private;
private:
    std::unique_ptr<Private> d;
};

} // namespace iptv::epg
