// The modeler in Traditional Chinese: bpmn-js's palette, context pad and replace menu, the
// properties panel's group labels, and token simulation's buttons, log and notices. bpmn-js
// looks its texts up by their English words with the `translate` service; token simulation
// writes its own (English) words into the page, so TokenSimulationTranslations rewrites them as
// they appear. Used when the page is Chinese (<html lang="zh-Hant">); the server's panel
// strings (#modeler-config panelStrings) are laid over these.

export const zhHant = {
  // palette
  'Activate hand tool': '啟用手形工具',
  'Activate lasso tool': '啟用套索工具',
  'Activate create/remove space tool': '啟用新增／移除空間工具',
  'Activate global connect tool': '啟用全域連線工具',
  'Create start event': '建立開始事件',
  'Create intermediate/boundary event': '建立中間／邊界事件',
  'Create end event': '建立結束事件',
  'Create gateway': '建立閘道',
  'Create task': '建立任務',
  'Create data object reference': '建立資料物件參照',
  'Create data store reference': '建立資料儲存參照',
  'Create expanded sub-process': '建立展開的子流程',
  'Create pool/participant': '建立泳池／參與者',
  'Create group': '建立群組',
  // context pad
  'Append end event': '接上結束事件',
  'Append gateway': '接上閘道',
  'Append task': '接上任務',
  'Append intermediate/boundary event': '接上中間／邊界事件',
  'Append message intermediate catch event': '接上訊息中間捕獲事件',
  'Append timer intermediate catch event': '接上計時器中間捕獲事件',
  'Append conditional intermediate catch event': '接上條件中間捕獲事件',
  'Append signal intermediate catch event': '接上信號中間捕獲事件',
  'Append receive task': '接上接收任務',
  'Append compensation activity': '接上補償活動',
  'Append element': '接上元素',
  'Add text annotation': '新增文字註解',
  'Add lane above': '在上方新增泳道',
  'Add lane below': '在下方新增泳道',
  'Divide into two lanes': '分為兩條泳道',
  'Divide into three lanes': '分為三條泳道',
  'Change element': '變更元素類型',
  'Change type': '變更類型',
  'Connect to other element': '連接到其他元素',
  'Connect using association': '以關聯連接',
  'Connect using data input association': '以資料輸入關聯連接',
  'Connect using sequence/message flow or association': '以順序流／訊息流或關聯連接',
  Delete: '刪除',
  'Search in diagram': '在圖中搜尋',
  // replace menu
  'Start event': '開始事件',
  'End event': '結束事件',
  'Intermediate throw event': '中間拋出事件',
  'Boundary event': '邊界事件',
  'Message start event': '訊息開始事件',
  'Timer start event': '計時器開始事件',
  'Conditional start event': '條件開始事件',
  'Signal start event': '信號開始事件',
  'Error start event': '錯誤開始事件',
  'Escalation start event': '升級開始事件',
  'Compensation start event': '補償開始事件',
  'Message intermediate catch event': '訊息中間捕獲事件',
  'Message intermediate throw event': '訊息中間拋出事件',
  'Timer intermediate catch event': '計時器中間捕獲事件',
  'Conditional intermediate catch event': '條件中間捕獲事件',
  'Signal intermediate catch event': '信號中間捕獲事件',
  'Signal intermediate throw event': '信號中間拋出事件',
  'Link intermediate catch event': '連結中間捕獲事件',
  'Link intermediate throw event': '連結中間拋出事件',
  'Escalation intermediate throw event': '升級中間拋出事件',
  'Compensation intermediate throw event': '補償中間拋出事件',
  'Message end event': '訊息結束事件',
  'Error end event': '錯誤結束事件',
  'Escalation end event': '升級結束事件',
  'Compensation end event': '補償結束事件',
  'Signal end event': '信號結束事件',
  'Terminate end event': '終止結束事件',
  'Cancel end event': '取消結束事件',
  'Message boundary event': '訊息邊界事件',
  'Timer boundary event': '計時器邊界事件',
  'Error boundary event': '錯誤邊界事件',
  'Escalation boundary event': '升級邊界事件',
  'Conditional boundary event': '條件邊界事件',
  'Signal boundary event': '信號邊界事件',
  'Compensation boundary event': '補償邊界事件',
  'Cancel boundary event': '取消邊界事件',
  'Message boundary event (non-interrupting)': '訊息邊界事件（不中斷）',
  'Timer boundary event (non-interrupting)': '計時器邊界事件（不中斷）',
  'Escalation boundary event (non-interrupting)': '升級邊界事件（不中斷）',
  'Conditional boundary event (non-interrupting)': '條件邊界事件（不中斷）',
  'Signal boundary event (non-interrupting)': '信號邊界事件（不中斷）',
  'Message start event (non-interrupting)': '訊息開始事件（不中斷）',
  'Timer start event (non-interrupting)': '計時器開始事件（不中斷）',
  'Conditional start event (non-interrupting)': '條件開始事件（不中斷）',
  'Signal start event (non-interrupting)': '信號開始事件（不中斷）',
  'Escalation start event (non-interrupting)': '升級開始事件（不中斷）',
  Task: '任務',
  'User task': '使用者任務',
  'Service task': '服務任務',
  'Script task': '腳本任務',
  'Send task': '傳送任務',
  'Receive task': '接收任務',
  'Manual task': '手動任務',
  'Business rule task': '業務規則任務',
  'Call activity': '呼叫活動',
  'Sub-process': '子流程',
  'Sub-process (collapsed)': '子流程（收合）',
  'Sub-process (expanded)': '子流程（展開）',
  'Event sub-process': '事件子流程',
  'Ad-hoc sub-process': '臨時子流程',
  'Ad-hoc sub-process (collapsed)': '臨時子流程（收合）',
  'Ad-hoc sub-process (expanded)': '臨時子流程（展開）',
  Transaction: '交易',
  'Exclusive gateway': '互斥閘道',
  'Parallel gateway': '並行閘道',
  'Inclusive gateway': '包容閘道',
  'Complex gateway': '複合閘道',
  'Event-based gateway': '事件閘道',
  'Sequence flow': '順序流',
  'Default flow': '預設流',
  'Conditional flow': '條件流',
  'Data object reference': '資料物件參照',
  'Data store reference': '資料儲存參照',
  'Expanded pool/participant': '展開的泳池／參與者',
  'Empty pool/participant': '空的泳池／參與者',
  'Parallel multi-instance': '並行多實例',
  'Sequential multi-instance': '順序多實例',
  Loop: '迴圈',
  Collection: '集合',
  'Participant multiplicity': '參與者多重性',
  'Toggle non-interrupting': '切換不中斷',
  // properties panel: header and group labels
  'Select an element to edit its properties.': '請選擇一個元素以編輯其屬性。',
  'Multiple elements are selected. Select a single one to edit its properties.':
    '已選擇多個元素。請只選擇一個以編輯其屬性。',
  General: '一般',
  Name: '名稱',
  ID: '識別碼',
  Documentation: '說明文件',
  'Element documentation': '元素說明',
  'Process documentation': '流程說明',
  Condition: '條件',
  Timer: '計時器',
  Message: '訊息',
  Signal: '信號',
  Error: '錯誤',
  Escalation: '升級',
  Link: '連結',
  Compensation: '補償',
  'Multi-instance': '多實例',
  Data: '資料',
  Inputs: '輸入',
  Outputs: '輸出',
  'Extension properties': '擴充屬性',
  'Execution listeners': '執行監聽器',
  // token simulation (its own words, rewritten by TokenSimulationTranslations)
  'Token Simulation': '令牌模擬',
  'Toggle Token Simulation': '切換令牌模擬',
  'Play/Pause Simulation': '播放／暫停模擬',
  'Play Simulation': '播放模擬',
  'Pause Simulation': '暫停模擬',
  'Reset Simulation': '重設模擬',
  'Toggle Simulation Log': '切換模擬紀錄',
  'Simulation Log': '模擬紀錄',
  'No Entries': '沒有紀錄',
  'Set Sequence Flow': '設定順序流',
  'Trigger Event': '觸發事件',
  'Set animation speed': '設定動畫速度',
  Slow: '慢',
  Normal: '正常',
  Fast: '快',
  Finished: '已結束',
  'Not supported': '不支援',
  'Found unsupported elements': '發現不支援的元素',
  'Start Event': '開始事件',
  'End Event': '結束事件',
  'Intermediate Event': '中間事件',
  'Boundary Event': '邊界事件',
  'User Task': '使用者任務',
  'Service Task': '服務任務',
  'Script Task': '腳本任務',
  'Send Task': '傳送任務',
  'Receive Task': '接收任務',
  'Manual Task': '手動任務',
  'Business Rule Task': '業務規則任務',
  'Call Activity': '呼叫活動',
  'Exclusive Gateway': '互斥閘道',
  'Parallel Gateway': '並行閘道',
  'Inclusive Gateway': '包容閘道',
};

/** The texts of the page's language: Chinese on a zh-Hant page, none (English) otherwise. */
export function pageTranslations(doc = document) {
  return /^zh/i.test((doc.documentElement && doc.documentElement.lang) || '') ? zhHant : {};
}

const SPEED = /^Set animation speed = (.+)$/;

/**
 * Token simulation writes fixed English into the page (toggle, palette titles, log, notices):
 * say each text node and title of its elements (class "bts-…") with `translate` as they are
 * added. Nothing is done for an English page (translate gives the words back).
 */
function TokenSimulationText(canvas, translate) {
  const say = (text) => {
    const trimmed = text.trim();
    if (!trimmed) { return text; }
    const speed = SPEED.exec(trimmed);
    if (speed) { return `${translate('Set animation speed')}: ${translate(speed[1])}`; }
    const said = translate(trimmed);
    return said === trimmed ? text : text.replace(trimmed, said);
  };
  const rewrite = (root) => {
    if (!(root instanceof Element)) { return; }
    const elements = [root, ...root.querySelectorAll('[class*="bts-"], [title]')];
    elements.forEach((element) => {
      if (!element.closest('[class*="bts-"]')) { return; }  // not token simulation's
      if (element.hasAttribute('title')) {
        element.setAttribute('title', say(element.getAttribute('title')));
      }
      element.childNodes.forEach((node) => {
        if (node.nodeType === Node.TEXT_NODE) {
          const said = say(node.textContent);
          if (said !== node.textContent) { node.textContent = said; }
        }
      });
    });
  };
  const container = canvas.getContainer();
  rewrite(container);
  new MutationObserver((changes) => {
    changes.forEach((change) => change.addedNodes.forEach(rewrite));
  }).observe(container, { childList: true, subtree: true });
}

TokenSimulationText.$inject = ['canvas', 'translate'];

export const TokenSimulationTranslations = {
  __init__: ['tokenSimulationTranslations'],
  tokenSimulationTranslations: ['type', TokenSimulationText],
};
