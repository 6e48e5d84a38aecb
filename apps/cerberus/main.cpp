// cerberus: the operator console. Signs in to a controlserver and shows the fleet, boxes,
// releases and the audit log, and diver's recordings, rules and plan; all logic is in libs/cerberus.

#include "logindialog.h"
#include "mainwindow.h"
#include "fleetview.h"
#include "recordingsview.h"

#include <cerberus/controlclient.h>
#include <cerberus/diverclient.h>
#include <cerberus/dvrcontroller.h>
#include <cerberus/fleetcontroller.h>
#include <cerberus/stallmonitor.h>
#include <core/subcommand.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QFile>
#include <QStyleFactory>
#include <QTimer>

using namespace iptv::cerberus;

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(u"iptv-platform"_qs);
    QApplication::setApplicationName(u"cerberus"_qs);
    QApplication::setApplicationVersion(QStringLiteral(CERBERUS_VERSION));
    QApplication::setStyle(QStyleFactory::create(u"Fusion"_qs));

    QCommandLineParser parser;
    parser.setApplicationDescription(u"Cerberus, the operator console of the IPTV control server."_qs);
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOption({u"server"_qs, u"Control server HTTP API (default: the last one used)."_qs, u"url"_qs});
    parser.addOption({u"live"_qs, u"Operator WebSocket URL (default: the server's host, HTTP port + 1)."_qs, u"url"_qs});
    parser.addOption({u"account"_qs, u"Operator account."_qs, u"name"_qs});
    parser.addOption({u"password-file"_qs, u"Sign in with the password in this file (scripts, demos)."_qs, u"file"_qs});
    parser.addOption({u"trusted-key"_qs, u"Public key file trusted when inspecting bundles (repeatable)."_qs, u"file"_qs});
    parser.addOption({u"diver"_qs, u"diver, the DVR server, for the Recordings view (default: the last one used; \"\" for none)."_qs, u"url"_qs});
    parser.addOption({u"diver-token-file"_qs, u"diver's admin token ([server] admin_token) from this file."_qs, u"file"_qs});
    parser.addOption({u"view"_qs, u"Open this view: dashboard, fleet, releases, audit or recordings."_qs, u"view"_qs});
    parser.addOption({u"screenshot"_qs, u"Save the window as this PNG once the view has loaded, and quit."_qs, u"file"_qs});
    parser.addOption({u"select-first"_qs, u"Open the first box of the fleet once it is loaded."_qs});
    parser.addOption({u"measure-stalls"_qs, u"Print how long the UI thread was held (p50/p99/max) every 10 s and at exit."_qs});
    iptv::cli::processCommandLine(parser, QCoreApplication::arguments());

    ControlClient client;
    DiverClient diver;
    if (parser.isSet(u"live"_qs))
        client.setLiveUrl(QUrl(parser.value(u"live"_qs)));
    cerberus::ui::LoginDialog login(&client, &diver);
    if (parser.isSet(u"diver"_qs))
        login.setDiver(parser.value(u"diver"_qs));
    if (parser.isSet(u"diver-token-file"_qs)) {
        QFile f(parser.value(u"diver-token-file"_qs));
        if (!f.open(QIODevice::ReadOnly)) {
            qCritical("cerberus: --diver-token-file %s: %s", qPrintable(f.fileName()), qPrintable(f.errorString()));
            return 2;
        }
        login.setDiverToken(QString::fromUtf8(f.readAll()).trimmed());
    }
    if (parser.isSet(u"server"_qs))
        login.setServer(parser.value(u"server"_qs));
    if (parser.isSet(u"account"_qs))
        login.setAccount(parser.value(u"account"_qs));
    if (parser.isSet(u"password-file"_qs)) {
        QFile f(parser.value(u"password-file"_qs));
        if (!f.open(QIODevice::ReadOnly)) {
            qCritical("cerberus: --password-file %s: %s", qPrintable(f.fileName()), qPrintable(f.errorString()));
            return 2;
        }
        const QString password = QString::fromUtf8(f.readAll()).trimmed();
        QTimer::singleShot(0, &login, [&login, password] { login.submit(password); });
    }
    if (login.exec() != QDialog::Accepted)
        return 1;

    cerberus::ui::MainWindow window(&client, &diver);
    window.setTrustedKeys(parser.values(u"trusted-key"_qs));
    const QString view = parser.value(u"view"_qs);
    const QStringList views{u"dashboard"_qs, u"fleet"_qs, u"releases"_qs, u"audit"_qs, u"recordings"_qs};
    if (views.contains(view))
        window.showView(cerberus::ui::MainWindow::View(views.indexOf(view)));
    if (parser.isSet(u"select-first"_qs)) {
        QObject::connect(window.fleetController(), &FleetController::loaded, &window, [&window] {
            window.fleetView()->selectFirstRow();
        });
        QObject::connect(window.dvrController(), &DvrController::recordingsLoaded, &window, [&window] {
            window.recordingsView()->selectFirstRow();
        });
    }
    if (parser.isSet(u"screenshot"_qs)) {
        // Once the fleet (and diver's library, when one is set) has loaded, and the tables had a
        // moment to paint.
        const QString file = parser.value(u"screenshot"_qs);
        auto pending = std::make_shared<int>(diver.isConfigured() ? 2 : 1);
        auto shoot = [&window, file, pending] {
            if (--*pending != 0)
                return;
            QTimer::singleShot(1500, &window, [&window, file] {
                const bool ok = window.grab().save(file);
                qInfo("cerberus: screenshot %s: %s", qPrintable(file), ok ? "saved" : "could not be saved");
                QCoreApplication::exit(ok ? 0 : 3);
            });
        };
        QObject::connect(window.fleetController(), &FleetController::loaded, &window, shoot, Qt::SingleShotConnection);
        QObject::connect(window.dvrController(), &DvrController::recordingsLoaded, &window, shoot, Qt::SingleShotConnection);
    }
    StallMonitor stalls;
    QTimer stallReport;
    if (parser.isSet(u"measure-stalls"_qs)) {
        // From the first turn of the event loop on: building and first painting the window is
        // start-up, not a stall.
        QTimer::singleShot(0, &stalls, [&stalls] { stalls.start(); });
        QObject::connect(&stallReport, &QTimer::timeout, &stalls, [&stalls] {
            qInfo("cerberus: UI thread stalls: %s", qPrintable(stalls.summary()));
        });
        stallReport.start(10000);
    }
    window.show();
    window.startSession();
    const int rc = app.exec();
    if (parser.isSet(u"measure-stalls"_qs))
        qInfo("cerberus: UI thread stalls, whole run: %s", qPrintable(stalls.summary()));
    return rc;
}
