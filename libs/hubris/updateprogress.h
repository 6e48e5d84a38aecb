#pragma once

// What the software update screen shows: the stage of a release install the control server
// started (download with its progress, verify, install), then "restarting", or why it failed.
// Fed by the UpdateInstaller's signals, all on the event loop: the install itself runs off it.

#include <boxlink/updateinstaller.h>

#include <QObject>
#include <QTimer>

namespace iptv::hubris {

class UpdateProgress : public QObject
{
    Q_OBJECT
    Q_PROPERTY(Stage stage READ stage NOTIFY changed)
    /// Something to show: an install runs, restarts, or failed a moment ago.
    Q_PROPERTY(bool active READ isActive NOTIFY changed)
    Q_PROPERTY(QString version READ version NOTIFY changed)
    /// 0 to 1 over the whole install; -1 while the size is unknown.
    Q_PROPERTY(double progress READ progress NOTIFY changed)
    /// "Downloading 9.0.0 · 1.2 of 3.4 MB", "Verifying the signature", ...
    Q_PROPERTY(QString text READ text NOTIFY changed)
public:
    enum Stage { Idle, Downloading, Verifying, Installing, Restarting, Failed };
    Q_ENUM(Stage)

    explicit UpdateProgress(QObject *parent = nullptr);
    /// Follows `installer`'s installs.
    void attach(boxlink::UpdateInstaller *installer);

    Stage stage() const { return m_stage; }
    bool isActive() const { return m_stage != Idle; }
    QString version() const { return m_version; }
    double progress() const;
    QString text() const;
    /// How long a failure stays on screen (default 8 s).
    void setFailureMs(int ms) { m_clear.setInterval(ms); }

public Q_SLOTS:
    /// The stages as the installer says them (tests drive the screen with these).
    void stageChanged(const QString &version, boxlink::UpdateInstaller::Stage stage);
    void downloadProgress(const QString &version, qint64 received, qint64 total);
    void finished(bool ok, const QString &version, const QString &text);
    /// The app restarts into the installed release now.
    void restarting();

Q_SIGNALS:
    void changed();

private:
    void set(Stage stage, const QString &version);

    Stage m_stage = Idle;
    QString m_version;
    qint64 m_received = 0;
    qint64 m_total = 0;
    QString m_error;
    QTimer m_clear;
};

} // namespace iptv::hubris
