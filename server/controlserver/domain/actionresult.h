#pragma once

// The outcome of an operator action, whichever layer carries it out: an HTTP status, and a JSON
// body or an error {code, message} (http/httpapi.h turns it into the answer).

#include <QJsonObject>
#include <QString>

#include <utility>

namespace iptv::control {

struct ActionResult
{
    int status = 200;
    QString code;    ///< error code (unauthorized, forbidden, not-found, bad-request, conflict, internal)
    QString message;
    QJsonObject body;
    bool ok() const { return status < 400; }
    static ActionResult error(int status, const QString &code, const QString &message) { return {status, code, message, {}}; }
    static ActionResult success(QJsonObject body, int status = 200) { return {status, {}, {}, std::move(body)}; }
};

} // namespace iptv::control
