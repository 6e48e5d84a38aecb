#pragma once

// What QML knows of the program around it: simulator or box, and the version.

#include <QObject>
#include <QString>

class Shell : public QObject
{
    Q_OBJECT
    Q_PROPERTY(bool simulator MEMBER simulator CONSTANT)
    Q_PROPERTY(QString version MEMBER version CONSTANT)
    Q_PROPERTY(bool linked MEMBER linked CONSTANT)
    Q_PROPERTY(QString serial MEMBER serial CONSTANT)
    Q_PROPERTY(bool developmentBuild MEMBER developmentBuild CONSTANT)
    Q_PROPERTY(bool started READ isStarted NOTIFY startedChanged)
public:
    using QObject::QObject;
    /// The start is over: the first live picture is on screen, or none came in time. The pages
    /// other than live TV are created from then on (LazyPage.qml).
    bool isStarted() const { return m_started; }
    void setStarted()
    {
        if (m_started)
            return;
        m_started = true;
        Q_EMIT startedChanged();
    }

    bool simulator = false;
    QString version;
    bool linked = false; ///< a control server link exists
    QString serial;
    bool developmentBuild = false; ///< IPTV_DEVELOPMENT_BUILD: the diagnostics overlay

Q_SIGNALS:
    void startedChanged();

private:
    bool m_started = false;
};
