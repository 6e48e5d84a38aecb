#pragma once

// The console window: a sidebar of views (dashboard, fleet, releases, audit, recordings), a status bar with
// the session and the live connection, and the layout remembered between runs.

#include <QMainWindow>

class QLabel;
class QListWidget;
class QStackedWidget;

namespace iptv::cerberus {
class AuditController;
class BoxDetailController;
class CommandController;
class ControlClient;
class DashboardModel;
class DiverClient;
class DvrController;
class FleetController;
class FleetModel;
class ReleaseController;
}

namespace cerberus::ui {

class AuditView;
class DashboardView;
class FleetView;
class RecordingsView;
class ReleasesView;

class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    enum View { Dashboard, Fleet, Releases, Audit, Recordings };

    MainWindow(iptv::cerberus::ControlClient *client, iptv::cerberus::DiverClient *diver, QWidget *parent = nullptr);
    ~MainWindow() override;

    void showView(View view);
    /// Starts loading once logged in.
    void startSession();
    FleetView *fleetView() const { return m_fleetView; }
    iptv::cerberus::FleetController *fleetController() const { return m_fleet; }
    iptv::cerberus::DvrController *dvrController() const { return m_dvr; }
    RecordingsView *recordingsView() const { return m_recordingsView; }
    void setTrustedKeys(const QStringList &files);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void restoreLayout();
    void saveLayout();
    void showMessage(const QString &text, bool error);
    void updateStatus();

    iptv::cerberus::ControlClient *m_client;
    iptv::cerberus::FleetModel *m_model;
    iptv::cerberus::FleetController *m_fleet;
    iptv::cerberus::DashboardModel *m_dashboard;
    iptv::cerberus::BoxDetailController *m_detail;
    iptv::cerberus::CommandController *m_commands;
    iptv::cerberus::ReleaseController *m_releases;
    iptv::cerberus::AuditController *m_audit;
    iptv::cerberus::DvrController *m_dvr;
    QListWidget *m_nav;
    QStackedWidget *m_stack;
    DashboardView *m_dashboardView;
    FleetView *m_fleetView;
    ReleasesView *m_releasesView;
    AuditView *m_auditView;
    RecordingsView *m_recordingsView;
    QLabel *m_session;
    QLabel *m_live;
    QLabel *m_message;
};

} // namespace cerberus::ui
