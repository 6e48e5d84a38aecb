#pragma once

// A HAL player for the Hubris tests: play() is recorded, frames and failures come when the test
// says so.

#include <hal/hal.h>

#include <QList>
#include <QUrl>

class TestPlayer : public iptv::hal::Player
{
public:
    QList<QUrl> played;
    void play(const QUrl &url) override
    {
        played.append(url);
        setSource(url);
        setState(State::Opening);
    }
    void stop() override { setState(State::Stopped); }
    void setVideoSink(QVideoSink *) override {}
    void frame(qint64 ms)
    {
        setState(State::Playing);
        Q_EMIT firstFrame(ms);
    }
    void breakDown(const QString &why) { fail(why); }
};
