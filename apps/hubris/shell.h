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
public:
    using QObject::QObject;
    bool simulator = false;
    QString version;
    bool linked = false; ///< a control server link exists
    QString serial;
    bool developmentBuild = false; ///< IPTV_DEVELOPMENT_BUILD: the diagnostics overlay
};
