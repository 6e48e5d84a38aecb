#pragma once

// The small persistent "offline" indicator: the guide server or the control server cannot be
// reached, and the box works on with the guide in memory and the last lineup. Not a dialog:
// it says what is missing and until when the guide on the box lasts.

#include "controllink.h"
#include "guidestore.h"

#include <QObject>
#include <QPointer>

namespace iptv::hubris {

class OfflineStatus : public QObject
{
    Q_OBJECT
    Q_PROPERTY(bool shown READ isShown NOTIFY changed)
    Q_PROPERTY(bool offline READ isOffline NOTIFY changed)
    Q_PROPERTY(QString text READ text NOTIFY changed)
public:
    /// `link` may be null (no control server configured).
    OfflineStatus(GuideStore *store, ControlLink *link, QObject *parent = nullptr);

    /// A server is unreachable.
    bool isOffline() const;
    /// Something to say: offline, or no guide yet.
    bool isShown() const { return isOffline() || !m_store->isLoaded(); }
    QString text() const;

Q_SIGNALS:
    void changed();

private:
    GuideStore *m_store;
    QPointer<ControlLink> m_link;
};

} // namespace iptv::hubris
