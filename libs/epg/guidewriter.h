#pragma once

// The compact box guide (docs/guide-format.md): writing side.
//
// GuideBuilder takes channels and programmes one at a time, as a streaming reader produces them,
// interning strings and storing each programme's metadata once as it goes, so memory follows the
// size of the compiled guide and not the size of the XMLTV input.

#include "programme.h"

#include <core/diagnostic.h>

#include <QByteArray>
#include <QString>

#include <functional>
#include <memory>

namespace iptv::epg {

struct ChannelMapping;

struct GuideCompileOptions
{
    qint64 from = 0;     ///< window start, UTC seconds; 0 = the first programme's start
    int days = 14;       ///< window length
    /// zstd level 1-22, or 0 to choose by body size so a compile stays fast: 19 up to 4 MB of
    /// body, 16 up to 8 MB, 14 up to 64 MB (two weeks of 1,000 channels is 36 MB), then 12.
    int compressionLevel = 0;
    int threads = 0;     ///< zstd worker threads; 0 = as many as cores
    QString generator;   ///< recorded in the header
    qint64 createdAt = 0; ///< 0 = now; tests pin it for byte-identical output
    /// Programmes of channels never declared with addChannel(): kept under a channel made from
    /// the id (true), or dropped (false, e.g. when a lineup decides the channel list).
    bool keepUndeclaredChannels = true;
};

struct GuideCompileStats
{
    qint64 channels = 0;
    qint64 programmesIn = 0;       ///< programmes offered to the builder
    qint64 airings = 0;            ///< kept in the window
    qint64 outsideWindow = 0;
    qint64 unknownChannel = 0;     ///< programmes whose channel was never declared
    qint64 undeclaredChannels = 0; ///< how many channels those programmes were on
    qint64 invalidTimes = 0;       ///< stop before start: stop dropped and filled like a missing one
    qint64 overlapsTrimmed = 0;    ///< airings cut short because the next one started earlier
    qint64 duplicatesDropped = 0;  ///< same channel and start twice
    qint64 missingStopFilled = 0;
    qint64 programmeRecords = 0;   ///< distinct metadata records
    qint64 strings = 0;
    qint64 bodyBytes = 0;
    qint64 fileBytes = 0;
};

class GuideBuilder
{
public:
    explicit GuideBuilder(GuideCompileOptions options = {});
    ~GuideBuilder();

    /// Channels keep the order they are added in (a lineup's order when one was applied).
    void addChannel(const Channel &channel);
    /// A channel showing another one's programmes (a lineup's second stream of a guide
    /// channel): every programme added for `programmesOf` airs on it too.
    void addChannelAlias(const Channel &channel, const QString &programmesOf);
    /// The channels of a lineup mapping, in its order, aliases included.
    void addMappedChannels(const ChannelMapping &mapping);
    void addProgramme(const Programme &programme);
    void addGuide(const GuideData &data);

    /// Builds the file bytes. Problems with the data (overlaps, unknown channels) are reported
    /// into diagnostics as warnings; the result is always a valid guide.
    QByteArray finish(iptv::DiagnosticList *diagnostics = nullptr);
    bool finishToFile(const QString &path, QString *error, iptv::DiagnosticList *diagnostics = nullptr);

    const GuideCompileStats &stats() const;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace iptv::epg
