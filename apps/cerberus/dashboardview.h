#pragma once

// The fleet at a glance: counters, versions by release channel, online and error-rate history,
// and the alerts list.

#include <cerberus/dashboardmodel.h>

#include <QWidget>

class QChartView;
class QLabel;
class QListView;

namespace cerberus::ui {

class TimeChart;

class DashboardView : public QWidget
{
    Q_OBJECT
public:
    DashboardView(iptv::cerberus::DashboardModel *model, QWidget *parent = nullptr);
    QListView *alerts() const { return m_alerts; }

private:
    void refresh();

    iptv::cerberus::DashboardModel *m_model;
    QLabel *m_boxes;
    QLabel *m_online;
    QLabel *m_pending;
    QLabel *m_errors;
    QLabel *m_buffering;
    QLabel *m_alertCount;
    QChartView *m_versions;
    TimeChart *m_onlineChart;
    TimeChart *m_errorChart;
    QListView *m_alerts;
    QLabel *m_noAlerts;
};

} // namespace cerberus::ui
