#pragma once

// The simulator's hardware: createPlayer()'s player (FFmpeg into the view's video sink, sound to
// the default audio device); standby and the front panel are shown by the simulator window (it
// reads the properties), not by any device.

#include "hal.h"

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
    Player *m_player;
};

} // namespace iptv::hal
