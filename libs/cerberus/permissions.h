#pragma once

// What the logged-in operator may do, from the role the server reported at login. The server
// enforces roles on every route; the console mirrors them so that actions the account cannot
// perform are disabled instead of failing with 403 after a click.

#include <QObject>
#include <QString>

namespace iptv::cerberus {

class Permissions : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QString role READ role NOTIFY changed)
    Q_PROPERTY(bool canView READ canView NOTIFY changed)
    Q_PROPERTY(bool canCommand READ canCommand NOTIFY changed)
    Q_PROPERTY(bool canFactoryReset READ canFactoryReset NOTIFY changed)
    Q_PROPERTY(bool canApprove READ canApprove NOTIFY changed)
    Q_PROPERTY(bool canManageReleases READ canManageReleases NOTIFY changed)
    Q_PROPERTY(bool canAdminister READ canAdminister NOTIFY changed)

public:
    enum class Role : quint8 { None, Viewer, Operator, Admin };
    Q_ENUM(Role)

    explicit Permissions(QObject *parent = nullptr);

    /// "viewer", "operator" or "admin"; anything else (or a logout) leaves no permission at all.
    void setRole(const QString &role);
    QString role() const;
    Role level() const { return m_role; }

    bool canView() const { return m_role >= Role::Viewer; }
    /// Reboot, tune, message, logs, screenshot, release channel, tags.
    bool canCommand() const { return m_role >= Role::Operator; }
    bool canFactoryReset() const { return m_role >= Role::Operator; }
    bool canApprove() const { return m_role >= Role::Operator; }
    /// Upload bundles, start/pause/resume/abort rollouts: admin, as on the server (a release
    /// reaches the whole fleet).
    bool canManageReleases() const { return m_role >= Role::Admin; }
    /// Operator accounts.
    bool canAdminister() const { return m_role >= Role::Admin; }

    static Role roleFromName(QStringView name);

Q_SIGNALS:
    void changed();

private:
    Role m_role = Role::None;
};

} // namespace iptv::cerberus
