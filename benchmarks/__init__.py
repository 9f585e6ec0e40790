"""Tarozu's benchmarks (`make bench`): speed, accuracy and load, as ratios against named references."""
