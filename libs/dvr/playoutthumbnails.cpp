#include "playoutthumbnails.h"

#include <algorithm>
#include <utility>

#include <media/codec.h>
#include <media/input.h>

#include <QBuffer>
#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QLoggingCategory>
#include <QSaveFile>

extern "C" {
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

Q_LOGGING_CATEGORY(lcPlayoutThumbnails, "iptv.dvr.thumbnails")

namespace iptv::dvr {

using namespace iptv::media;

namespace {
/// Segments tried for one thumbnail before its step is left out.
constexpr int MaxThumbnailTries = 3;
} // namespace

bool writeThumbnail(const QString &segmentPath, const QString &jpegPath, int width, QString *error, bool *noPicture)
{
    if (noPicture)
        *noPicture = false;
    MediaInput input;
    InputSpec spec;
    spec.kind = InputSpec::Kind::File;
    spec.url = segmentPath;
    MediaError mediaError;
    if (!input.open(spec, &mediaError)) {
        *error = mediaError.toString();
        // What the file holds (nothing readable as media), as against what the system could
        // not do now (AVERROR(EMFILE), AVERROR(EIO)...).
        const int code = mediaError.code;
        if (noPicture)
            *noPicture = code == AVERROR_EOF || code == AVERROR_INVALIDDATA || code == AVERROR_STREAM_NOT_FOUND
                || code == AVERROR_DEMUXER_NOT_FOUND;
        return false;
    }
    if (input.videoStream() < 0) {
        *error = QStringLiteral("making a thumbnail of %1: no video").arg(segmentPath);
        if (noPicture)
            *noPicture = true;
        return false;
    }
    Decoder decoder;
    if (!decoder.open(input.context()->streams[input.videoStream()], 1, &mediaError)) {
        *error = mediaError.toString();
        return false;
    }
    Frame picture;
    auto keep = [&](AVFrame *frame) {
        if (!picture) {
            picture = makeFrame();
            av_frame_ref(picture.get(), frame);
        }
    };
    Packet packet = makePacket();
    bool sawKey = false;
    while (!picture) {
        const MediaInput::Read r = input.read(packet.get(), &mediaError);
        if (r != MediaInput::Read::Packet)
            break;
        if (packet->stream_index != input.videoStream())
            continue;
        sawKey = sawKey || (packet->flags & AV_PKT_FLAG_KEY);
        if (!sawKey)
            continue;
        decoder.decode(packet.get(), keep, &mediaError);
    }
    if (!picture)
        decoder.decode(nullptr, keep, &mediaError); // drain: a decoder with delay holds the frame
    if (!picture) {
        *error = QStringLiteral("making a thumbnail of %1: no video frame decodes (%2)").arg(segmentPath, mediaError.toString());
        if (noPicture)
            *noPicture = true;
        return false;
    }
    const int w = qMax(16, width) & ~1;
    const int h = qMax(2, int(qint64(w) * picture->height / qMax(1, picture->width))) & ~1;
    SwsContextPtr sws(sws_getContext(picture->width, picture->height, AVPixelFormat(picture->format), w, h, AV_PIX_FMT_RGB24,
                                     SWS_BILINEAR, nullptr, nullptr, nullptr));
    if (!sws) {
        *error = QStringLiteral("making a thumbnail of %1: cannot scale %2x%3 %4")
                     .arg(segmentPath)
                     .arg(picture->width)
                     .arg(picture->height)
                     .arg(QLatin1String(av_get_pix_fmt_name(AVPixelFormat(picture->format))));
        return false;
    }
    QImage image(w, h, QImage::Format_RGB888);
    uint8_t *dst[4] = {image.bits(), nullptr, nullptr, nullptr};
    int dstStride[4] = {int(image.bytesPerLine()), 0, 0, 0};
    sws_scale(sws.get(), picture->data, picture->linesize, 0, picture->height, dst, dstStride);
    QByteArray jpeg;
    QBuffer buffer(&jpeg);
    buffer.open(QIODevice::WriteOnly);
    if (!image.save(&buffer, "JPEG", 75)) {
        *error = QStringLiteral("making a thumbnail of %1: this Qt cannot write JPEG (the qjpeg image format plugin is missing)")
                     .arg(segmentPath);
        return false;
    }
    // A name of its own until it is whole (QSaveFile: a unique temporary, synced, renamed), so
    // that two requests making the same thumbnail at once never rename each other's half.
    QSaveFile out(jpegPath);
    if (!out.open(QIODevice::WriteOnly) || out.write(jpeg) != jpeg.size() || !out.commit()) {
        *error = QStringLiteral("writing %1: %2").arg(jpegPath, out.errorString());
        return false;
    }
    return true;
}

QList<Thumbnail> ensureThumbnails(const QString &archiveDirectory, const QList<ArchiveSegment> &segments, qint64 everyMs,
                                  int width, QString *error, int maxThumbnails, const std::atomic_bool *cancel)
{
    QList<Thumbnail> out;
    if (segments.isEmpty())
        return out;
    // At most maxThumbnails: a long recording gets them further apart (every 2 s of a day's
    // recording would be 43,200 decodes).
    qint64 totalMs = 0;
    for (const ArchiveSegment &s : segments)
        totalMs += s.durationMs;
    const qint64 step = std::max({everyMs, qint64(1), (totalMs + qMax(1, maxThumbnails) - 1) / qMax(1, maxThumbnails)});
    const QDir dir(archiveDirectory);
    qint64 next = 0, at = 0;
    int failedThisStep = 0, failed = 0;
    QString why, failedFile;
    for (const ArchiveSegment &s : segments) {
        if (cancel && cancel->load(std::memory_order_relaxed)) {
            *error = QStringLiteral("stopped");
            return {};
        }
        const qint64 position = std::exchange(at, at + s.durationMs);
        if (position < next)
            continue;
        const QFileInfo segmentFile(dir.filePath(s.file));
        const QString name = QStringLiteral("thumb-%1.jpg").arg(s.sequence);
        const QString relative = QFileInfo(s.file).path() == QLatin1String(".") ? name : QFileInfo(s.file).path() + QLatin1Char('/') + name;
        const QString path = dir.filePath(relative);
        // A segment that gave no picture once never will (it is never rewritten): a marker beside
        // it saves decoding it again on every request (an audio-only recording: every segment).
        const QString noPictureMarker = path.chopped(4) + QStringLiteral(".none");
        bool noPicture = false;
        if (QFileInfo::exists(noPictureMarker)) {
            why = QStringLiteral("%1 gave no picture before").arg(s.file);
            noPicture = true;
        }
        if (noPicture || (!QFileInfo::exists(path) && !writeThumbnail(segmentFile.filePath(), path, width, &why, &noPicture))) {
            if (noPicture && !QFileInfo::exists(noPictureMarker)) {
                QFile marker(noPictureMarker);
                if (!marker.open(QIODevice::WriteOnly))
                    qCWarning(lcPlayoutThumbnails).noquote() << "cannot write" << noPictureMarker << ":" << marker.errorString();
            }
            ++failed;
            failedFile = s.file;
            // A segment without a picture (the source sent audio only for a while, a damaged
            // one): the next segment stands for this step; a step none of a few shows is left out.
            if (++failedThisStep >= MaxThumbnailTries) {
                failedThisStep = 0;
                next = position + step;
            }
            continue;
        }
        failedThisStep = 0;
        next = position + step;
        out.append({position, relative});
    }
    if (out.isEmpty())
        *error = QStringLiteral("no picture in the %1 segments tried; the last, %2: %3").arg(failed).arg(failedFile, why);
    return out;
}

static QByteArray vttTime(qint64 ms)
{
    ms = qMax<qint64>(0, ms);
    return QStringLiteral("%1:%2:%3.%4")
        .arg(ms / 3600000, 2, 10, QLatin1Char('0'))
        .arg(ms / 60000 % 60, 2, 10, QLatin1Char('0'))
        .arg(ms / 1000 % 60, 2, 10, QLatin1Char('0'))
        .arg(ms % 1000, 3, 10, QLatin1Char('0'))
        .toLatin1();
}

QByteArray thumbnailTrack(const QList<Thumbnail> &thumbnails, qint64 durationMs, const QString &uriPrefix)
{
    QByteArray out = "WEBVTT\n";
    for (qsizetype i = 0; i < thumbnails.size(); ++i) {
        const qint64 from = thumbnails[i].atMs;
        const qint64 to = i + 1 < thumbnails.size() ? thumbnails[i + 1].atMs : durationMs;
        if (to <= from)
            continue;
        out += '\n' + vttTime(from) + " --> " + vttTime(to) + '\n' + (uriPrefix + thumbnails[i].file).toUtf8() + '\n';
    }
    return out;
}

} // namespace iptv::dvr
