#pragma once

// A Linux set-top box: video through createPlayer() on eglfs, standby by blanking the framebuffer
// (/sys/class/graphics/fb0/blank), the front panel as a text device (e.g. /dev/dbox/oled0 or a
// VFD driver's /proc file). The paths come from the box's config; a path that cannot be written
// is reported once and the rest keeps working.

#include "hal.h"

namespace iptv::hal {

struct LinuxBoxPaths
{
    QString blank = QStringLiteral("/sys/class/graphics/fb0/blank");
    QString frontPanel; ///< empty: no front panel
};

class LinuxBoxHal : public Hal
{
    Q_OBJECT
public:
    explicit LinuxBoxHal(LinuxBoxPaths paths = {}, QObject *parent = nullptr);
    Player *player() override { return m_player; }
    QString model() const override { return QStringLiteral("linux box"); }
    /// The last device write that failed ("" when none).
    QString lastError() const { return m_lastError; }

protected:
    void applyVolume(int volume, bool muted) override { m_player->setAudio(volume, muted); }
    void applyStandby(bool standby) override;
    void applyFrontPanel(const QString &text) override;

private:
    bool writeDevice(const QString &path, const QByteArray &value);

    LinuxBoxPaths m_paths;
    Player *m_player;
    QString m_lastError;
};

} // namespace iptv::hal
