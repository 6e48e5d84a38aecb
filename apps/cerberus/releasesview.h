#pragma once

// Releases and rollouts: upload a signed bundle (its manifest and signature state shown first),
// start a staged rollout, follow every group live, pause/resume/abort.

#include <cerberus/releasecontroller.h>

#include <QWidget>

class QChartView;
class QLabel;
class QPushButton;
class QSplitter;
class QTableView;

namespace cerberus::ui {

class ReleasesView : public QWidget
{
    Q_OBJECT
public:
    ReleasesView(iptv::cerberus::ControlClient *client, iptv::cerberus::ReleaseController *releases, QWidget *parent = nullptr);
    QSplitter *splitter() const { return m_splitter; }

private:
    void uploadBundle();
    void startRollout();
    void updateButtons();
    void drawGroups();
    QString selectedRollout() const;

    iptv::cerberus::ControlClient *m_client;
    iptv::cerberus::ReleaseController *m_releases;
    QTableView *m_releaseTable;
    QTableView *m_rolloutTable;
    QTableView *m_groupTable;
    QChartView *m_groupChart;
    QLabel *m_rolloutTitle;
    QPushButton *m_upload;
    QPushButton *m_start;
    QPushButton *m_pause;
    QPushButton *m_resume;
    QPushButton *m_abort;
    QSplitter *m_splitter;
    QLabel *m_notice;
    QLabel *m_noReleases;
    QLabel *m_noRollouts;
};

} // namespace cerberus::ui
