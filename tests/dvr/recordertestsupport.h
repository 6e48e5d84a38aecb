#pragma once
// What the recorder's tests (tst_recorder, tst_recorderdating) share: reading what was written,
// and an ffmpeg source writing a live HLS channel.

#include <dvr/archive.h>

#include <QDebug>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QString>
#include <QStringList>

namespace recordertest {

inline QByteArray fileBytes(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

/// The archive in `dir` as a reader sees it (a load error is logged: the reader is then empty).
inline iptv::dvr::ArchiveReader load(const QString &dir)
{
    iptv::dvr::ArchiveReader r;
    QString error;
    if (!r.load(dir, &error))
        qWarning() << error;
    return r;
}

/// ffmpeg's arguments for a test picture (160x90, 25 fps, a keyframe each second) with a tone,
/// read at `rate` times real time, encoded H.264 + AAC; the output's arguments follow.
inline QStringList lavfiInputs(const QString &rate)
{
    return {u"-hide_banner"_qs, u"-loglevel"_qs, u"error"_qs, u"-nostdin"_qs, u"-readrate"_qs, rate, u"-f"_qs, u"lavfi"_qs,
            u"-i"_qs, u"testsrc2=size=160x90:rate=25"_qs, u"-readrate"_qs, rate, u"-f"_qs, u"lavfi"_qs, u"-i"_qs,
            u"sine=frequency=440:sample_rate=48000"_qs, u"-c:v"_qs, u"libx264"_qs, u"-preset"_qs, u"ultrafast"_qs,
            u"-tune"_qs, u"zerolatency"_qs, u"-g"_qs, u"25"_qs, u"-keyint_min"_qs, u"25"_qs, u"-sc_threshold"_qs, u"0"_qs,
            u"-pix_fmt"_qs, u"yuv420p"_qs, u"-c:a"_qs, u"aac"_qs, u"-b:a"_qs, u"48k"_qs};
}

inline bool startFfmpeg(QProcess &process, const QStringList &args, QString *error)
{
    process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    process.start(u"ffmpeg"_qs, args);
    if (!process.waitForStarted(10000)) {
        *error = QStringLiteral("ffmpeg: %1").arg(process.errorString());
        return false;
    }
    return true;
}

/// ffmpeg writing a live HLS channel into `dir` in real time (1 s segments, a keyframe each
/// second; with `programDates` every segment carries its EXT-X-PROGRAM-DATE-TIME, the second
/// ffmpeg started at plus the media's time), as a headend does. The playlist keeps every segment.
inline bool startHlsSource(QProcess &process, const QString &dir, bool programDates, QString *error)
{
    QStringList args = lavfiInputs(u"1"_qs);
    args << u"-f"_qs << u"hls"_qs << u"-hls_time"_qs << u"1"_qs << u"-hls_list_size"_qs << u"0"_qs;
    if (programDates)
        args << u"-hls_flags"_qs << u"program_date_time"_qs;
    args << u"-hls_segment_filename"_qs << QDir(dir).filePath(u"src-%d.ts"_qs) << QDir(dir).filePath(u"index.m3u8"_qs);
    return startFfmpeg(process, args, error);
}

} // namespace recordertest
