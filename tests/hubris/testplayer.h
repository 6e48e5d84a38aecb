#pragma once

// A HAL player for the Hubris tests: play() is recorded, frames and failures come when the test
// says so.

#include <hal/hal.h>

#include <QList>
#include <QUrl>

#include <chrono>

class TestPlayer : public iptv::hal::Player
{
public:
    QList<QUrl> played;
    void play(const QUrl &url) override
    {
        played.append(url);
        setSource(url);
        setState(State::Opening);
        iptv::hal::StartTiming t;
        t.source = url;
        t.generation = quint64(played.size());
        t.requestedAtNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now().time_since_epoch()).count();
        setStartTiming(t);
    }
    void stop() override { setState(State::Stopped); }
    void setVideoSink(QVideoSink *) override {}
    void frame(qint64 ms)
    {
        setState(State::Playing);
        Q_EMIT firstFrame(ms);
    }
    /// The first picture with the parts of its start (ms after play()).
    void frame(qint64 connected, qint64 opened, qint64 keyframe, qint64 decoded, qint64 shown)
    {
        iptv::hal::StartTiming t = startTiming();
        t.connectedMs = connected;
        t.openedMs = opened;
        t.firstKeyframeMs = keyframe;
        t.firstDecodedMs = decoded;
        t.firstShownMs = shown;
        setState(State::Playing);
        setStartTiming(t);
    }
    void breakDown(const QString &why) { fail(why); }
    /// All of the stream was read (a recording's end).
    void endOfStream(const QString &why) { end(why); }
    /// The server refused the URL's credential (HTTP 401: a playback token that expired).
    void refuse(const QString &why) { failWith(why, Failure::Unauthorized); }
};
