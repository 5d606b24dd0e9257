import { t } from './strings.js';

document.getElementById('app').textContent = t('loading');
