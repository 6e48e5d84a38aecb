#pragma once

// Where every layer writes its audit entries (operator actions, refusals included, and what the
// server does on its own): the store's audit table with the server's clock. ControlServer (app/)
// implements it; the HTTP API and the release service are given one.

#include <QString>

namespace iptv::control {

class AuditLog
{
public:
    virtual ~AuditLog() = default;
    /// Appends to the audit log (committed when it returns true).
    virtual bool audit(const QString &account, const QString &action, const QString &target, const QString &outcome,
                       const QString &detail = {}) = 0;
};

} // namespace iptv::control
