import QtQuick
import Hubris.Native

// The guide grid: channels down, time across, from the guide in memory. Only the rows on screen
// exist (a ListView), and each asks for the airings of its visible time span only, so 1,000
// channels x 14 days never become items. Left/right move by programme, up/down by channel,
// channel keys by page, red/green by day, yellow back to now, OK opens the details.
Rectangle {
    id: page
    objectName: "guidePage"
    signal closed()
    signal openDetails(int airing)

    readonly property int span: 9000                 // seconds across the grid (2.5 h)
    readonly property int slot: 1800                 // the ruler's step
    property real viewStart: 0                       // UTC seconds at the grid's left edge
    property real focusTime: 0                       // the focused airing is the one airing then
    property var focusedAiring: ({})
    readonly property int channelColumn: 230
    readonly property real pxPerSecond: (grid.width - channelColumn) / span

    color: Theme.background

    function align(t) { return Math.floor(t / slot) * slot }
    function open() {
        const now = GuideGrid.now()
        viewStart = align(now)
        focusTime = now
        grid.currentIndex = Math.max(0, Zapper.current)
        grid.positionViewAtIndex(grid.currentIndex, ListView.Center)
        refocus()
    }
    function clampTime(t) {
        return Math.max(GuideGrid.windowStart, Math.min(GuideGrid.windowEnd - 1, t))
    }
    function refocus() {
        focusedAiring = GuideGrid.airingAt(grid.currentIndex, focusTime)
        if (focusTime < viewStart) viewStart = align(focusTime)
        else if (focusTime >= viewStart + span) viewStart = align(focusTime) - span + slot
    }
    function step(forward) {
        const a = focusedAiring
        if (a.start === undefined) {
            focusTime = clampTime(focusTime + (forward ? slot : -slot))
        } else if (forward) {
            focusTime = clampTime(a.stop)
        } else {
            focusTime = clampTime(Math.max(a.start, viewStart) - 1)
            const prev = GuideGrid.airingAt(grid.currentIndex, focusTime)
            if (prev.start !== undefined) focusTime = Math.max(prev.start, focusTime - span)
        }
        // Keep the focus where it is on screen: the middle of a long programme that starts early.
        const f = GuideGrid.airingAt(grid.currentIndex, focusTime)
        if (f.start !== undefined && f.start < viewStart && forward === false && f.start >= viewStart - span)
            viewStart = align(f.start)
        refocus()
    }
    function moveRows(n) {
        grid.currentIndex = Math.max(0, Math.min(grid.count - 1, grid.currentIndex + n))
        const a = GuideGrid.airingAt(grid.currentIndex, focusTime)
        refocus()
    }
    function handle(action) {
        switch (action) {
        case RemoteKeys.Left: step(false); return true
        case RemoteKeys.Right: step(true); return true
        case RemoteKeys.Up: moveRows(-1); return true
        case RemoteKeys.Down: moveRows(1); return true
        case RemoteKeys.ChannelUp: moveRows(-rowsOnScreen()); return true
        case RemoteKeys.ChannelDown: moveRows(rowsOnScreen()); return true
        case RemoteKeys.Red: focusTime = clampTime(focusTime - 86400); viewStart = align(focusTime); refocus(); return true
        case RemoteKeys.Green: focusTime = clampTime(focusTime + 86400); viewStart = align(focusTime); refocus(); return true
        case RemoteKeys.Yellow: open(); return true
        case RemoteKeys.Ok: case RemoteKeys.Info:
            if (focusedAiring.airing !== undefined) page.openDetails(focusedAiring.airing)
            return true
        case RemoteKeys.Back: case RemoteKeys.Guide: page.closed(); return true
        case RemoteKeys.Record: // network DVR: record the focused programme, again cancels
            if (focusedAiring.airing === undefined || focusedAiring.stop <= GuideGrid.now()) return true
            if (Dvr.markOf(focusedAiring.airing) !== "") Dvr.cancelAiring(focusedAiring.airing)
            else Dvr.recordAiring(focusedAiring.airing)
            return true
        }
        const d = Remote.digitOf(action)
        if (d >= 0) {
            // Digits jump to a channel in the grid, not tune it.
            const row = Channels.rowOfNumber(d)
            if (row >= 0) { grid.currentIndex = row; refocus() }
            return true
        }
        return false
    }
    function rowsOnScreen() { return Math.max(1, Math.floor(grid.height / 64)) }
    function clock(t) { return Qt.formatTime(new Date(t * 1000), "hh:mm") }

    // Header: the day, the ruler, what is focused.
    Text {
        id: day
        x: Theme.margin; y: 24
        text: Qt.formatDate(new Date(page.viewStart * 1000), "dddd d MMMM")
        color: Theme.text
        font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true
    }
    Text {
        anchors.right: parent.right; anchors.rightMargin: Theme.margin; anchors.baseline: day.baseline
        width: parent.width - day.width - 3 * Theme.margin
        horizontalAlignment: Text.AlignRight
        elide: Text.ElideLeft
        text: page.focusedAiring.title ? page.clock(page.focusedAiring.start) + "–" + page.clock(page.focusedAiring.stop)
                                         + "  " + page.focusedAiring.title : ""
        color: Theme.accent
        font.family: Theme.family; font.pixelSize: Theme.fontNormal
    }
    Item {
        id: ruler
        anchors.top: day.bottom; anchors.topMargin: 16
        x: Theme.margin + page.channelColumn
        width: grid.width - page.channelColumn; height: 32
        Repeater {
            model: page.span / page.slot
            Text {
                required property int index
                x: index * page.slot * page.pxPerSecond + 6
                text: page.clock(page.viewStart + index * page.slot)
                color: Theme.dimText
                font.family: Theme.family; font.pixelSize: Theme.fontSmall
            }
        }
    }
    ListView {
        id: grid
        anchors.top: ruler.bottom; anchors.bottom: hint.top; anchors.bottomMargin: 8
        x: Theme.margin; width: parent.width - 2 * Theme.margin
        clip: true
        model: Channels
        highlightMoveDuration: 60
        reuseItems: true
        delegate: Item {
            id: row
            required property int index
            required property int number
            required property string name
            readonly property bool current: ListView.isCurrentItem
            width: grid.width; height: 64
            Rectangle {
                width: page.channelColumn - 6; height: parent.height - 4
                radius: 4
                color: row.current ? Theme.cellNow : Theme.cell
                Text {
                    x: 10; anchors.verticalCenter: parent.verticalCenter
                    width: parent.width - 20; elide: Text.ElideRight
                    text: row.number + "  " + row.name
                    color: Theme.text
                    font.family: Theme.family; font.pixelSize: Theme.fontSmall; font.bold: row.current
                }
            }
            Item {
                x: page.channelColumn
                width: parent.width - page.channelColumn; height: parent.height
                clip: true
                Repeater {
                    // Asks the guide again whenever the visible span moves.
                    model: GuideGrid.airings(row.index, page.viewStart, page.viewStart + page.span)
                    delegate: Rectangle {
                        required property var modelData
                        readonly property bool focused: row.current && modelData.start <= page.focusTime
                                                        && page.focusTime < modelData.stop
                        readonly property bool onNow: modelData.start <= GuideGrid.now() && GuideGrid.now() < modelData.stop
                        x: Math.max(0, (modelData.start - page.viewStart) * page.pxPerSecond)
                        width: Math.min(parent.width, (modelData.stop - page.viewStart) * page.pxPerSecond) - x - 3
                        height: parent.height - 4
                        radius: 4
                        color: onNow ? Theme.cellNow : Theme.cell
                        border.color: focused ? Theme.focus : "transparent"
                        border.width: Theme.focusWidth
                        // Network DVR: ● recording or planned, ○ left out by a conflict.
                        readonly property string mark: Dvr.revision >= 0 ? Dvr.markOf(modelData.airing) : ""
                        Text {
                            visible: parent.mark !== ""
                            anchors.right: parent.right; anchors.rightMargin: 8; anchors.verticalCenter: parent.verticalCenter
                            text: parent.mark === "conflict" ? "○" : "●"
                            color: parent.mark === "planned" ? Theme.accent : Theme.error
                            font.family: Theme.family; font.pixelSize: Theme.fontSmall
                        }
                        Text {
                            x: 8; anchors.verticalCenter: parent.verticalCenter
                            width: parent.width - (parent.mark !== "" ? 36 : 16); elide: Text.ElideRight
                            text: modelData.title
                            color: Theme.text
                            font.family: Theme.family; font.pixelSize: Theme.fontSmall
                        }
                    }
                }
                Rectangle { // now
                    readonly property real at: (GuideGrid.now() - page.viewStart) * page.pxPerSecond
                    visible: at >= 0 && at < parent.width
                    x: at; width: 2; height: parent.height
                    color: Theme.error
                }
            }
        }
    }
    Text {
        id: hint
        anchors.bottom: parent.bottom; anchors.bottomMargin: 16; x: Theme.margin
        text: qsTr("OK details   ● red day back   ● green day forward   ● yellow now   CH+/CH− page")
              + (Dvr.enabled ? qsTr("   REC record") : "")
        color: Theme.dimText
        font.family: Theme.family; font.pixelSize: 16
    }
}
