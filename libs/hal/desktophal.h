#pragma once

// The simulator's hardware: Qt Multimedia for video and sound; standby and the front panel are
// shown by the simulator window (it reads the properties), not by any device.

#include "hal.h"
#include "mediaplayer.h"

namespace iptv::hal {

class DesktopHal : public Hal
{
    Q_OBJECT
public:
    explicit DesktopHal(QObject *parent = nullptr);
    Player *player() override { return m_player; }
    QString model() const override { return QStringLiteral("desktop simulator"); }

protected:
    void applyVolume(int volume, bool muted) override { m_player->setAudio(volume, muted); }
    void applyStandby(bool) override {}
    void applyFrontPanel(const QString &) override {}

private:
    MediaPlayer *m_player;
};

} // namespace iptv::hal
