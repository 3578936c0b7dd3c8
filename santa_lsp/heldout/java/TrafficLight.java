import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

public class TrafficLight {

    public enum State { RED, RED_AMBER, GREEN, AMBER, FLASHING, OFF }

    public enum Event { TIMER, FAULT, RESET, POWER_OFF, POWER_ON }

    public static class Transition {
        private final State from;
        private final State to;
        private final Event event;

        Transition(State from, State to, Event event) {
            this.from = from;
            this.to = to;
            this.event = event;
        }

        @Override
        public String toString() {
            return from + " --" + event + "--> " + to;
        }
    }

    private final Map<State, Map<Event, State>> table = new EnumMap<>(State.class);
    private final Map<State, Integer> durations = new EnumMap<>(State.class);
    private final List<Transition> history = new ArrayList<>();
    private final List<Consumer<Transition>> listeners = new ArrayList<>();
    private State current = State.OFF;
    private int elapsed;

    public TrafficLight() {
        allow(State.RED, Event.TIMER, State.RED_AMBER);
        allow(State.RED_AMBER, Event.TIMER, State.GREEN);
        allow(State.GREEN, Event.TIMER, State.AMBER);
        allow(State.AMBER, Event.TIMER, State.RED);
        allow(State.FLASHING, Event.RESET, State.RED);
        allow(State.OFF, Event.POWER_ON, State.FLASHING);
        for (State state : State.values()) {
            if (state != State.OFF) {
                allow(state, Event.POWER_OFF, State.OFF);
            }
            if (state != State.OFF && state != State.FLASHING) {
                allow(state, Event.FAULT, State.FLASHING);
            }
        }
        durations.put(State.RED, 30);
        durations.put(State.RED_AMBER, 3);
        durations.put(State.GREEN, 25);
        durations.put(State.AMBER, 4);
    }

    private void allow(State from, Event event, State to) {
        table.computeIfAbsent(from, k -> new EnumMap<>(Event.class)).put(event, to);
    }

    public State getCurrent() {
        return current;
    }

    public boolean canFire(Event event) {
        Map<Event, State> options = table.get(current);
        return options != null && options.containsKey(event);
    }

    public State fire(Event event) {
        if (!canFire(event)) {
            throw new IllegalStateException("Cannot handle " + event + " while " + current);
        }
        State next = table.get(current).get(event);
        Transition transition = new Transition(current, next, event);
        history.add(transition);
        current = next;
        elapsed = 0;
        for (Consumer<Transition> listener : listeners) {
            listener.accept(transition);
        }
        return next;
    }

    public void onTransition(Consumer<Transition> listener) {
        listeners.add(listener);
    }

    public void tick(int seconds) {
        for (int i = 0; i < seconds; i++) {
            Integer limit = durations.get(current);
            if (limit == null) {
                continue;
            }
            elapsed++;
            if (elapsed >= limit) {
                fire(Event.TIMER);
            }
        }
    }

    public int secondsRemaining() {
        Integer limit = durations.get(current);
        return limit == null ? -1 : limit - elapsed;
    }

    public boolean isSafeToCross() {
        return current == State.RED && secondsRemaining() > 5;
    }

    public List<String> historyLines() {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < history.size(); i++) {
            lines.add(String.format("%3d. %s", i + 1, history.get(i)));
        }
        return lines;
    }

    public int countVisits(State state) {
        int count = 0;
        for (Transition transition : history) {
            if (transition.to == state) {
                count++;
            }
        }
        return count;
    }

    public static void main(String[] args) {
        TrafficLight light = new TrafficLight();
        light.onTransition(t -> System.out.println("changed: " + t));
        light.fire(Event.POWER_ON);
        light.fire(Event.RESET);
        light.tick(70);
        System.out.println("now " + light.getCurrent() + ", left " + light.secondsRemaining());
    }
}
