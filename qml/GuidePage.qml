import QtQuick
import Hubris.Native

// The guide grid: channels down, time across, from the guide in memory. Only the rows on screen
// exist (a ListView), and each asks for the airings of its visible time span only, so 1,000
// channels x 14 days never become items. Left/right move by programme, up/down by channel,
// channel keys by page, red/green by day, yellow back to now, blue favourites only, OK opens the
// details. Channels and programmes the parental control hides are not shown (GridChannels, and
// "Locked" cells whose OK asks for the PIN).
Rectangle {
    id: page
    objectName: "guidePage"
    signal closed()
    signal openDetails(int airing)
    signal unlock(int channel)

    readonly property int span: 9000                 // seconds across the grid (2.5 h)
    readonly property int slot: 1800                 // the ruler's step
    property real viewStart: 0                       // UTC seconds at the grid's left edge
    property real focusTime: 0                       // the focused airing is the one airing then
    property real now: 0                             // the guide's clock when the grid opened
    property int cellSlots: 12                       // cells made per row; grows when a row needs more
    property var focusedAiring: ({})
    readonly property int channelColumn: 230
    readonly property real pxPerSecond: (grid.width - channelColumn) / span

    color: Theme.background

    function align(t) { return Math.floor(t / slot) * slot }
    // The guide's channel index of the focused row (rows skip hidden channels).
    function channel() { return GridChannels.channelAt(grid.currentIndex) }
    function open() {
        now = GuideGrid.now()
        viewStart = align(now)
        focusTime = now
        grid.currentIndex = Math.max(0, GridChannels.rowOfChannel(Math.max(0, Zapper.current)))
        grid.positionViewAtIndex(grid.currentIndex, ListView.Center)
        refocus()
    }
    function clampTime(t) {
        return Math.max(GuideGrid.windowStart, Math.min(GuideGrid.windowEnd - 1, t))
    }
    function refocus() {
        focusedAiring = GuideGrid.airingAt(channel(), focusTime)
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
            const prev = GuideGrid.airingAt(channel(), focusTime)
            if (prev.start !== undefined) focusTime = Math.max(prev.start, focusTime - span)
        }
        // Keep the focus where it is on screen: the middle of a long programme that starts early.
        const f = GuideGrid.airingAt(channel(), focusTime)
        if (f.start !== undefined && f.start < viewStart && forward === false && f.start >= viewStart - span)
            viewStart = align(f.start)
        refocus()
    }
    // Focus on `ch` (a guide channel index) again, e.g. after rows appeared above it.
    function showChannel(ch) {
        grid.currentIndex = Math.max(0, GridChannels.rowOfChannel(ch))
        refocus()
    }
    function moveRows(n) {
        grid.currentIndex = Math.max(0, Math.min(grid.count - 1, grid.currentIndex + n))
        grid.positionViewAtIndex(grid.currentIndex, ListView.Contain)
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
        case RemoteKeys.Blue: {
            // Favourites only, or all again: stay on the same channel when it is still shown.
            const was = channel()
            GridChannels.favouritesOnly = !GridChannels.favouritesOnly
            grid.currentIndex = Math.max(0, GridChannels.rowOfChannel(was))
            refocus()
            return true
        }
        case RemoteKeys.Ok: case RemoteKeys.Info:
            if (focusedAiring.locked) page.unlock(channel())
            else if (focusedAiring.airing !== undefined) page.openDetails(focusedAiring.airing)
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
            const row = GridChannels.rowOfChannel(Channels.rowOfNumber(d))
            if (row >= 0 && GridChannels.channelAt(row) === Channels.rowOfNumber(d)) {
                grid.currentIndex = row
                grid.positionViewAtIndex(row, ListView.Contain)
                refocus()
            }
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
        text: Qt.formatDate(new Date(page.viewStart * 1000), "dddd d MMMM") + (GridChannels.favouritesOnly ? qsTr(" · Favourites") : "")
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
        model: GridChannels
        // The view jumps to the current row (positionViewAtIndex) instead of scrolling to it: a
        // smooth scroll is ~9 frames of the whole grid a key, and a box rasterising in software
        // (llvmpipe here) cannot paint them at frame rate.
        highlightFollowsCurrentItem: false
        // No rows made ahead off screen: they are made asynchronously, each batch costing another
        // frame of the whole grid, and a page key jumps past them anyway. Reused rows are cheap.
        cacheBuffer: 0
        reuseItems: true
        delegate: Item {
            id: row
            required property int index
            required property int channelIndex
            required property int number
            required property string name
            readonly property bool current: ListView.isCurrentItem
            // The airings in view, asked again whenever the visible span moves. The cells below are
            // made once per row and kept when the view moves or the row is reused for another
            // channel: only their bindings change (making ~50 cells a step cost more than a frame).
            readonly property var cells: GuideGrid.revision >= 0 ? GuideGrid.airings(channelIndex, page.viewStart, page.viewStart + page.span) : []
            onCellsChanged: if (cells.length > page.cellSlots) page.cellSlots = cells.length
            width: grid.width; height: 64
            Rectangle {
                width: page.channelColumn - 6; height: parent.height - 4
                radius: 4
                antialiasing: false
                color: row.current ? Theme.cellNow : Theme.cell
                Text {
                    x: 10; anchors.verticalCenter: parent.verticalCenter
                    width: parent.width - 20; elide: Text.ElideRight
                    text: row.number + "  " + row.name
                    textFormat: Text.PlainText
                    renderType: Text.NativeRendering
                    color: Theme.text
                    font.family: Theme.family; font.pixelSize: Theme.fontSmall; font.bold: row.current
                }
            }
            Item {
                x: page.channelColumn
                width: parent.width - page.channelColumn; height: parent.height
                clip: true
                Repeater {
                    model: page.cellSlots
                    delegate: Rectangle {
                        required property int index
                        readonly property var airing: row.cells[index] // undefined past the row's last
                        readonly property real start: airing ? airing.start : 0
                        readonly property real stop: airing ? airing.stop : 0
                        readonly property bool locked: airing ? airing.locked === true : false
                        readonly property bool focused: row.current && start <= page.focusTime && page.focusTime < stop
                        readonly property bool onNow: start <= page.now && page.now < stop
                        visible: airing !== undefined
                        x: Math.max(0, (start - page.viewStart) * page.pxPerSecond)
                        width: Math.max(0, Math.min(parent.width, (stop - page.viewStart) * page.pxPerSecond) - x - 3)
                        height: parent.height - 4
                        radius: 4
                        // Opaque (no smoothed edges, no see-through border when not focused) and
                        // glyph-texture text: the grid fills the screen, and a box without a fast
                        // GPU (Mesa's llvmpipe here) rasterises blended cells and distance-field
                        // glyphs at a third more CPU per frame.
                        antialiasing: false
                        color: locked ? Theme.background : onNow ? Theme.cellNow : Theme.cell
                        border.color: focused ? Theme.focus : Theme.cell
                        border.width: focused ? Theme.focusWidth : locked ? 2 : 0
                        LockIcon {
                            visible: parent.locked
                            x: 10; anchors.verticalCenter: parent.verticalCenter
                            color: Theme.dimText
                        }
                        // Network DVR: ● recording or planned, ○ left out by a conflict.
                        readonly property string mark: airing && Dvr.revision >= 0 ? Dvr.markOf(airing.airing) : ""
                        Text {
                            visible: parent.mark !== ""
                            anchors.right: parent.right; anchors.rightMargin: 8; anchors.verticalCenter: parent.verticalCenter
                            text: parent.mark === "conflict" ? "○" : "●"
                            color: parent.mark === "planned" ? Theme.accent : Theme.error
                            font.family: Theme.family; font.pixelSize: Theme.fontSmall
                        }
                        Text {
                            x: parent.locked ? 36 : 8; anchors.verticalCenter: parent.verticalCenter
                            width: parent.width - x - (parent.mark !== "" ? 28 : 8); elide: Text.ElideRight
                            text: parent.airing ? parent.airing.title : ""
                            textFormat: Text.PlainText
                            renderType: Text.NativeRendering
                            color: parent.locked ? Theme.dimText : Theme.text
                            font.family: Theme.family; font.pixelSize: Theme.fontSmall
                        }
                    }
                }
                Rectangle { // now
                    readonly property real at: (page.now - page.viewStart) * page.pxPerSecond
                    visible: at >= 0 && at < parent.width
                    x: at; width: 2; height: parent.height
                    color: Theme.error
                }
            }
        }
    }
    Text {
        anchors.centerIn: grid
        visible: grid.count === 0
        text: GridChannels.favouritesOnly ? qsTr("No favourite channels: yellow in the channel list marks one · blue shows all")
                                          : qsTr("No channels to show")
        color: Theme.dimText; font.family: Theme.family; font.pixelSize: Theme.fontNormal
    }
    Text {
        id: hint
        anchors.bottom: parent.bottom; anchors.bottomMargin: 16; x: Theme.margin
        text: qsTr("OK details  ● red day back  ● green day forward  ● yellow now  ● blue favourites only  CH+/CH− page")
              + (Dvr.enabled ? qsTr("  REC record") : "")
        color: Theme.dimText
        font.family: Theme.family; font.pixelSize: 16
    }
}
